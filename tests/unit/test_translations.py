"""Every user-facing string has a Thai translation, and the shipped .mo matches the .po.

The strings are found the way the README's ``pybabel extract`` finds them: babel.cfg's
mapping (pages, mail templates in .txt and .html, Python) and pybabel's default
keywords (``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext``...) plus ``_l``.
A message with a context (``pgettext``) is its own entry: the noun "Change" of the
audit tables and the verb "Change" of the account page are two Thai words, checked
separately; a plural message (``ngettext``) needs every Thai form."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "idp/translations/th/LC_MESSAGES/messages.po"
MO = ROOT / "idp/translations/th/LC_MESSAGES/messages.mo"
# README: pybabel extract -F babel.cfg -k _l ... (the defaults stay on)
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


@functools.cache
def _extracted() -> list[tuple[str, str | None, str]]:
    """(file relative to the root, context, msgid) of every message pybabel extracts."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = []
    for filename, _line, message, _comments, context in extract_from_dir(
        ROOT, method_map=method_map, options_map=options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.append((filename, context, msgid))
    return found


def _is_translated(string: str | tuple) -> bool:
    forms = (string,) if isinstance(string, str) else string
    return bool(forms) and all(forms)


def test_every_message_is_translated_to_thai():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="th")
    translated = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and _is_translated(m.string) and not m.fuzzy
    }
    missing = sorted(
        {(ctx or "", msgid) for _file, ctx, msgid in _extracted()}
        - {(c or "", i) for c, i in translated}
    )
    assert missing == []


def test_extraction_covers_mail_templates_and_server_messages():
    """Each mail template (both parts) and the Python messages are read by the extract
    command: a file whose strings pybabel never sees would pass the test above."""
    seen_files = {file for file, _ctx, _id in _extracted()}
    mail = sorted((ROOT / "idp/templates/mail").glob("*.*"))
    expected = {
        str(p.relative_to(ROOT))
        for p in mail
        if p.suffix in (".txt", ".html") and "_(" in p.read_text()
    }
    assert {p.suffix for p in mail} >= {".txt", ".html"}
    assert expected - seen_files == set()
    assert "idp/mfa/messages.py" in seen_files and "idp/web.py" in seen_files


def test_context_and_plural_keywords_are_extracted():
    """``pgettext`` and ``npgettext`` (one English word, two Thai ones: the noun and the
    verb "Change") and ``ngettext`` are found in Python and in templates alike."""
    method_map = {"py": "python", "html": "jinja2"}
    samples = {
        "py": b'pgettext("noun", "Change"); npgettext("holders", "%(num)d holder", '
        b'"%(num)d holders", n); ngettext("%(num)d day", "%(num)d days", n)',
        "html": b'{{ pgettext("verb", "Change") }} {{ ngettext("%(num)d day", '
        b'"%(num)d days", n) }} {{ npgettext("seats", "%(num)d seat", "%(num)d seats", n) }}',
    }
    found = {
        kind: {
            (context, message if isinstance(message, str) else message[0])
            for _line, message, _comments, context in extract(
                method_map[kind], io.BytesIO(code), keywords=KEYWORDS
            )
        }
        for kind, code in samples.items()
    }
    assert found["py"] == {
        ("noun", "Change"),
        ("holders", "%(num)d holder"),
        (None, "%(num)d day"),
    }
    assert found["html"] == {("verb", "Change"), (None, "%(num)d day"), ("seats", "%(num)d seat")}


def test_contexts_and_plurals_are_extracted_from_the_source():
    """The extraction reaches the pgettext and ngettext calls of the code itself (a
    guard on this test's keys)."""
    assert any(context for _file, context, _id in _extracted())
    with PO.open("rb") as f:
        assert any(isinstance(m.id, tuple) for m in read_po(f, locale="th"))


def _entries(catalog) -> dict:
    def plain(value):
        return value if isinstance(value, str) else tuple(value)

    return {(m.context, plain(m.id)): plain(m.string) for m in catalog if m.id}


def test_compiled_catalog_matches_po():
    with PO.open("rb") as f:
        po = _entries(read_po(f, locale="th"))
    with MO.open("rb") as f:
        mo = _entries(read_mo(f))
    assert po == mo
