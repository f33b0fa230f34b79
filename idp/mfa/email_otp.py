"""Emailed one-time codes, the pure rules (SECURITY.md 7 "Email OTP / reset code").

A code is 6 digits from :mod:`secrets`, sent for one account, one *purpose* and one
*binding* (what it was sent for: the sign-in flow id, the pending email change). It is
stored only as an HMAC-SHA256 under a key derived from IDP_SECRET_KEY (a database
leak alone does not let anyone try the million codes offline), lives 10 minutes
(ASVS 6.5.5), may be tried a few times, and a new code for the same binding
supersedes the old one. Each purpose keeps its own resend pause (:data:`POLICIES`).

One code, from sending to its end::

    issued --right code, in time--> used            (single use)
      |  \\--wrong code, tries left--> issued
      |   \\-wrong code, last try---> spent
      |--a new code for the binding--> superseded
      \\--TTL passed------------------> expired

Nothing here reads the clock or the database: :mod:`idp.mfa.email_codes` loads and
stores, counts failures in the shared lockout and applies these decisions.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256

from idp import crypto

CODE_DIGITS = 6
KEY_INFO = b"idp emailed codes"


class Purpose(StrEnum):
    """What a code is for; a code of one purpose never works for another."""

    MFA = "mfa"  # low-assurance second factor at sign-in; binding: the flow id
    EMAIL_CHANGE = "email_change"  # proves the new address; binding: the pending change
    # proves a registration's address (issue 10); bound to the registration, not to an
    # account (there is none yet); binding: the address
    REGISTRATION = "registration"
    # forgot password (issue 11, MISSION B3): sent to the registered address; binding:
    # the reset attempt (one browser's forgot-password flow)
    PASSWORD_RESET = "password_reset"  # noqa: S105


@dataclass(frozen=True)
class Policy:
    """Limits of one purpose, in seconds and tries."""

    ttl: int  # ASVS 6.5.5: <= 600
    resend_after: int  # pause between two mails for one binding (A-10: no mail bombing)
    max_attempts: int  # wrong tries that spend a code (SECURITY.md 7: 5)


POLICIES: Mapping[Purpose, Policy] = {
    Purpose.MFA: Policy(ttl=600, resend_after=90, max_attempts=5),
    Purpose.EMAIL_CHANGE: Policy(ttl=600, resend_after=60, max_attempts=5),
    Purpose.REGISTRATION: Policy(ttl=600, resend_after=90, max_attempts=5),
    Purpose.PASSWORD_RESET: Policy(ttl=600, resend_after=90, max_attempts=5),  # A-08..A-10
}


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the right code, now used
    WRONG = "wrong"  # not the code; the code still works
    SPENT = "spent"  # no usable code (none, used, superseded, expired, tries used up)
    LOCKED = "locked"  # the account is locked: nothing was checked (SECURITY.md 0.4 a)


@dataclass(frozen=True)
class StoredCode:
    """What the database holds about one code (never the code itself)."""

    code_hash: str
    created_at: int
    expires_at: int
    attempts: int = 0
    used_at: int | None = None
    superseded_at: int | None = None


def new_code() -> str:
    """Six random digits, leading zeros kept (NIST 800-63B 5.1.3: from an approved RNG)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_key(secret_key: str) -> bytes:
    """The HMAC key of emailed codes, separate from every other use of the secret key."""
    return crypto.derive_key(secret_key, KEY_INFO)


def normalise(code: str) -> str:
    """What a person typed, as compared: surrounding blanks do not count."""
    return code.strip()


def hash_code(key: bytes, code: str) -> str:
    """HMAC-SHA256 of the code (hex), the only form stored."""
    return hmac.new(key, b"code\0" + normalise(code).encode(), sha256).hexdigest()


def hash_binding(key: bytes, binding: str) -> str:
    """HMAC-SHA256 of the binding (hex): fixed length, and an address or a flow id used
    as a binding is not readable from the table."""
    return hmac.new(key, b"binding\0" + binding.encode(), sha256).hexdigest()


def expires_at(policy: Policy, t: int) -> int:
    return t + policy.ttl


def resend_wait(policy: Policy, last_sent_at: int | None, t: int) -> int:
    """Seconds to wait before another code may be sent for this binding; 0: now.

    The pause counts from the last code sent, whatever became of it (a used-up or
    superseded code does not shorten it)."""
    if last_sent_at is None:
        return 0
    return max(0, policy.resend_after - (t - last_sent_at))


def is_live(policy: Policy, stored: StoredCode | None, t: int) -> bool:
    """The code can still be accepted: not used, not superseded, in time, tries left."""
    return (
        stored is not None
        and stored.used_at is None
        and stored.superseded_at is None
        and t < stored.expires_at
        and stored.attempts < policy.max_attempts
    )


def judge(policy: Policy, stored: StoredCode | None, presented: str, t: int, key: bytes) -> Outcome:
    """Decide one try of ``presented`` against the latest code of its binding.

    The keyed hashes are compared in constant time (no timing oracle). A wrong try
    that uses the last allowed attempt answers :attr:`Outcome.SPENT`, so the caller
    can say "ask for a new code" at once."""
    if stored is None or not is_live(policy, stored, t):
        return Outcome.SPENT
    if hmac.compare_digest(stored.code_hash, hash_code(key, presented)):
        return Outcome.ACCEPTED
    if stored.attempts + 1 >= policy.max_attempts:
        return Outcome.SPENT
    return Outcome.WRONG
