"""One module of user-facing messages per area (issue 8): a message text is written
once. A sentence defined in two modules of the areas drifts apart when one is edited
(and its translation with it); the second place must import it instead."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from babel.messages.extract import extract_from_file

ROOT = Path(__file__).resolve().parents[2] / "idp"
AREAS = ("account", "admin", "mfa", "orgs")
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}


def test_no_message_text_is_defined_in_two_modules():
    where: dict[str, set[str]] = defaultdict(set)
    for area in AREAS:
        for path in (ROOT / area).glob("*.py"):
            for _line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS
            ):
                if len(message.split()) >= 3:  # sentences; "Other" may be a label twice
                    where[message].add(f"{area}/{path.name}")
    assert len(where) > 50  # the extraction found the areas' messages
    assert {m: sorted(f) for m, f in where.items() if len(f) > 1} == {}
