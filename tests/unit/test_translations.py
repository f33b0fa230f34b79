"""Every user-facing string has a Thai translation, and the shipped .mo matches the .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "idp/translations/th/LC_MESSAGES/messages.po"
MO = ROOT / "idp/translations/th/LC_MESSAGES/messages.mo"


def _source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT / "idp", method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_to_thai():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="th")
    # A plural entry's id and string are tuples: keyed by the singular, every form set.
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id): (
            all(m.string) if isinstance(m.string, tuple) else bool(m.string)
        )
        for m in catalog
        if m.id
    }
    missing = sorted(m for m in _source_messages() if not translated.get(m))
    assert missing == []


def test_compiled_catalog_matches_po():
    def plain(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    with PO.open("rb") as f:
        po = {plain(m.id): plain(m.string) for m in read_po(f, locale="th") if m.id}
    with MO.open("rb") as f:
        mo = {plain(m.id): plain(m.string) for m in read_mo(f) if m.id}
    assert po == mo
