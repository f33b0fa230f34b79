"""Identity documents (pure): Thai national and juristic IDs, passports, masking.

MISSION A6, B1, C1: a Thai person proves who they are by the 13-digit national ID, a
foreigner by passport number, nationality (ISO 3166-1 alpha-2) and expiry; a company by
its 13-digit juristic ID. Both Thai IDs end in the same mod-11 check digit.
Values in, a checked value or :class:`DocumentInvalid` out; no Flask, no database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache

from babel import Locale

NATIONAL_ID = "national_id"
PASSPORT = "passport"
KINDS = (NATIONAL_ID, PASSPORT)


class DocumentInvalid(ValueError):
    """``code`` names the translated message, ``field`` the form field."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(code)
        self.code, self.field = code, field


def thai_id_is_valid(value: str) -> bool:
    """A Thai 13-digit national or juristic ID: digit 13 is the mod-11 check digit of
    the first twelve, weighted 13..2."""
    if not re.fullmatch(r"\d{13}", value or ""):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(value[:12]))
    return (11 - total % 11) % 10 == int(value[12])


def thai_id_check_digit(first_twelve: str) -> str:
    """The check digit that completes twelve digits (fixtures and the demo use it)."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first_twelve))
    return str((11 - total % 11) % 10)


def normalise_thai_id(value: str) -> str:
    """Digits only: people type ``1-1017-00230-70-8`` or with spaces; full-width and Thai
    digits become ASCII (NFKC does not map Thai digits, so map them here)."""
    value = unicodedata.normalize("NFKC", value or "").translate(_THAI_DIGITS)
    return re.sub(r"[\s\-]", "", value)


_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from CLDR (Babel ships it with Flask-Babel)."""
    return frozenset(
        code
        for code in Locale("en").territories
        if re.fullmatch(r"[A-Z]{2}", code) and code not in {"ZZ", "EU", "EZ", "UN", "QO"}
    )


def country_names(locale: str) -> list[tuple[str, str]]:
    """(code, name in ``locale``) sorted by name, for a nationality select."""
    names = Locale.parse(locale).territories
    return sorted(((c, names.get(c, c)) for c in countries()), key=lambda pair: pair[1])


@dataclass(frozen=True)
class IdentityDocument:
    """A checked identity document. ``number`` is the normalised value; ``nationality``
    and ``expires`` only for passports (a Thai ID is TH and has no expiry here)."""

    kind: str
    number: str
    nationality: str = "TH"
    expires: date | None = None

    @property
    def masked(self) -> str:
        return mask(self.kind, self.number)


def check_national_id(value: str) -> IdentityDocument:
    number = normalise_thai_id(value)
    if not re.fullmatch(r"\d{13}", number):
        raise DocumentInvalid("national_id_format", "national_id")
    if not thai_id_is_valid(number):
        raise DocumentInvalid("national_id_check_digit", "national_id")
    return IdentityDocument(NATIONAL_ID, number)


def check_passport(
    number: str, nationality: str, expires: date | None, today: date
) -> IdentityDocument:
    """ICAO 9303 document numbers are up to 9 characters in the MRZ, but national
    formats run longer: accept 5-20 letters and digits. The passport must not have
    expired; a Thai passport holder registers by national ID instead."""
    number = unicodedata.normalize("NFKC", number or "").strip().upper().replace(" ", "")
    nationality = (nationality or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise DocumentInvalid("passport_format", "passport_number")
    if nationality not in countries():
        raise DocumentInvalid("nationality_unknown", "nationality")
    if nationality == "TH":
        raise DocumentInvalid("nationality_thai_use_id", "nationality")
    if expires is None:
        raise DocumentInvalid("passport_expiry_missing", "passport_expiry")
    if expires <= today:
        raise DocumentInvalid("passport_expired", "passport_expiry")
    return IdentityDocument(PASSPORT, number, nationality, expires)


def check_juristic_id(value: str) -> str:
    number = normalise_thai_id(value)
    if not re.fullmatch(r"\d{13}", number):
        raise DocumentInvalid("juristic_id_format", "juristic_id")
    if not thai_id_is_valid(number):
        raise DocumentInvalid("juristic_id_check_digit", "juristic_id")
    return number


def mask(kind: str, number: str) -> str:
    """What a page may show: a national ID as ``x-xxxx-xxxxx-xx-3`` (the grouping
    printed on the card, only the check digit kept), a passport as ``xxxxx67``."""
    if kind == NATIONAL_ID and len(number) == 13:
        return f"x-xxxx-xxxxx-xx-{number[-1]}"
    if not number:
        return ""
    keep = 2 if len(number) > 4 else 1
    return "x" * (len(number) - keep) + number[-keep:]
