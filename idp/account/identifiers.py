"""Normalisation of usernames and emails for lookup and uniqueness (SECURITY.md A-05,
I-04): NFKC, trimmed, case-folded, so variants hit the same account and counter."""

from __future__ import annotations

import re
import unicodedata

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")


def username_key(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def email_key(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def is_valid_username(value: str) -> bool:
    return bool(USERNAME_RE.fullmatch(username_key(value)))


def is_valid_email(value: str) -> bool:
    return bool(EMAIL_RE.fullmatch(email_key(value)))
