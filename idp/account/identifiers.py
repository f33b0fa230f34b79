"""Normalisation of usernames and emails for lookup and uniqueness (SECURITY.md A-05,
I-04): NFKC, trimmed, case-folded, so variants hit the same account and counter."""

from __future__ import annotations

import re
import unicodedata

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")


def username_key(value: str) -> str:
    """The lookup and uniqueness key of a username. Case folding alone turns the
    dotted capital I (U+0130, what a Turkish keyboard gives for "I") into "i" plus a
    combining dot above, so "ALİCE" would miss alice; it folds to a plain "i" here.
    Stored keys are ASCII (``USERNAME_RE``), so no stored key changes."""
    return unicodedata.normalize("NFKC", value).strip().casefold().replace("i\u0307", "i")


def email_key(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def is_valid_username(value: str) -> bool:
    return bool(USERNAME_RE.fullmatch(username_key(value)))


def is_valid_email(value: str) -> bool:
    return bool(EMAIL_RE.fullmatch(email_key(value)))
