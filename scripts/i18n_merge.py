"""Merge the extracted template into the Thai catalogue, adding translations from a
Python dict file (msgid -> Thai) given as argv[1]; prints what is still missing.

    pybabel extract -F babel.cfg -k _l -o idp/translations/messages.pot \
        --no-location --omit-header .
    python scripts/i18n_merge.py new_strings.py && pybabel compile -d idp/translations
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

PO = Path("idp/translations/th/LC_MESSAGES/messages.po")
POT = Path("idp/translations/messages.pot")


def main() -> None:
    new = runpy.run_path(sys.argv[1])["TH"] if len(sys.argv) > 1 else {}
    with PO.open("rb") as f:
        old = {m.id: m.string for m in read_po(f, locale="th") if m.id}
    with POT.open("rb") as f:
        pot = read_po(f)
    cat = Catalog(locale="th", project="idp", charset="utf-8", fuzzy=False)
    missing = []
    for m in pot:
        if not m.id:
            continue
        text = new.get(m.id) or old.get(m.id) or ""
        if not text:
            missing.append(m.id)
        cat.add(m.id, text, flags=m.flags)
    with PO.open("wb") as f:
        write_po(f, cat, no_location=True)
    print("untranslated:", missing)


if __name__ == "__main__":
    main()
