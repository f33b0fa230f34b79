"""Argon2id password hashing at the OWASP parameters (m=19456 KiB, t=2, p=1)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the username is unknown or the account is locked, so those
# answers take as long as a real check (ASVS 6.3.8: no enumeration by timing).
_DUMMY_HASH = HASHER.hash("timing-equaliser-not-a-password")

MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_verification_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def password_problem(password: str, context: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` is unacceptable, as a code (``account.messages.account_messages``
    words it), or None. Length in code points (NIST 800-63B); no composition rules;
    context words (username, email local part) refused. The rules are shown where a
    password is chosen (templates/_forms.html password_rules): keep both in step."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    lowered = password.casefold()
    for word in context:
        if word and len(word) >= 4 and word.casefold() in lowered:
            return "password_contains_identity"
    return None
