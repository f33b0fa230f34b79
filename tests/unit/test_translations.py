"""Every user-facing string has a Thai translation, and the shipped .mo matches the .po.

Messages are told apart by their context too (``pgettext``: the noun "Change" of the
audit tables and the verb "Change" of the account page are two Thai words), and a
plural message (``ngettext``) needs every Thai form."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "idp/translations/th/LC_MESSAGES/messages.po"
MO = ROOT / "idp/translations/th/LC_MESSAGES/messages.mo"
# The keywords of the README's `pybabel extract` command.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "_l": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}


def _key(message: str | tuple, context: str | None) -> tuple[str | None, str]:
    return context, message if isinstance(message, str) else message[0]


def _source_messages() -> set[tuple[str | None, str]]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT / "idp", method_map=method_map, keywords=KEYWORDS
    ):
        found.add(_key(message, context))
    return found


def _translated(strings: str | tuple) -> bool:
    return all(strings) if isinstance(strings, tuple) else bool(strings)


def test_every_message_is_translated_to_thai():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="th")
    translated = {_key(m.id, m.context) for m in catalog if m.id and _translated(m.string)}
    missing = sorted(_source_messages() - translated, key=str)
    assert missing == []


def test_contexts_and_plurals_are_extracted():
    """The extraction keywords reach pgettext and ngettext (a guard on this test's keys)."""
    assert any(context for context, _id in _source_messages())
    with PO.open("rb") as f:
        assert any(isinstance(m.id, tuple) for m in read_po(f, locale="th"))


def _entries(catalog) -> dict:
    def norm(value):
        return value if isinstance(value, str) else tuple(value)

    return {(m.context, norm(m.id)): norm(m.string) for m in catalog if m.id}


def test_compiled_catalog_matches_po():
    with PO.open("rb") as f:
        po = _entries(read_po(f, locale="th"))
    with MO.open("rb") as f:
        mo = _entries(read_mo(f))
    assert po == mo
