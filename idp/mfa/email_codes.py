"""Emailed one-time codes, the service: the one front door that issues, checks and
reports codes for every purpose (sign-in, email change, registration; password
reset next). A registration's codes belong to the registration (no account yet).
The rules are in :mod:`idp.mfa.email_otp`; this module loads and stores
them in ``email_codes`` and counts every try in the account's shared failure counter
(:func:`idp.account.lockout.guarded`, SECURITY.md 0.4 b), so an emailed code cannot be
guessed beside the password and the second factors.

A code is found only by (account, purpose, binding): a code sent for one flow, one
pending change or one purpose is never looked at for another. Callers send the mail
themselves (their wording); :func:`issue` does not commit: a caller commits the code
before queueing its mail or with it (a queued mail leaves after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from idp.account import lockout
from idp.config import Settings
from idp.db import now
from idp.mfa import email_otp
from idp.mfa.email_otp import Outcome, Purpose
from idp.models import EmailCode


@dataclass(frozen=True)
class Issued:
    """``code`` to mail, or None with ``retry_after`` seconds when it is too soon."""

    code: str | None
    retry_after: int = 0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one try; ``sent_to`` is the address an accepted code went to."""

    outcome: Outcome
    sent_to: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(frozen=True)
class Pending:
    """A code that can still be accepted (for pages that show "we sent a code")."""

    sent_to: str
    expires_at: int


def _owner(user_id: int | None, registration_id: int | None) -> ColumnElement[bool]:
    """Whose codes: an account's, or (no account yet) a registration's."""
    if registration_id is not None:
        return EmailCode.registration_id == registration_id
    return EmailCode.user_id == user_id


def _latest(
    db: Session,
    key: bytes,
    user_id: int | None,
    purpose: Purpose,
    binding: str,
    registration_id: int | None = None,
) -> EmailCode | None:
    """The newest code of this (account, purpose, binding): the only one that counts."""
    return db.scalar(
        select(EmailCode)
        .where(
            _owner(user_id, registration_id),
            EmailCode.purpose == purpose.value,
            EmailCode.binding == email_otp.hash_binding(key, binding),
        )
        .order_by(EmailCode.id.desc())
        .limit(1)
        # Attributes as in the database now, not as an earlier query in this session
        # left them (the updates below bypass the identity map).
        .execution_options(populate_existing=True)
    )


def _stored(row: EmailCode | None) -> email_otp.StoredCode | None:
    if row is None:
        return None
    return email_otp.StoredCode(
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
        used_at=row.used_at,
        superseded_at=row.superseded_at,
    )


def issue(
    db: Session,
    settings: Settings,
    user_id: int | None,
    purpose: Purpose,
    binding: str,
    sent_to: str,
    *,
    registration_id: int | None = None,
) -> Issued:
    """A new code for (account, purpose, binding), to be mailed to ``sent_to``, or
    ``Issued(None, seconds)`` within the purpose's resend pause (SECURITY.md A-10).

    The new code supersedes the binding's earlier ones and does not reset the failure
    counter (NIST 800-63B: a new secret SHALL NOT reset the count). Flushes; the
    caller commits. ``registration_id`` (with ``user_id`` None): a registration's code."""
    policy, key, t = email_otp.POLICIES[purpose], email_otp.code_key(settings.secret_key), now()
    last = _latest(db, key, user_id, purpose, binding, registration_id)
    wait = email_otp.resend_wait(policy, last.created_at if last else None, t)
    if wait:
        return Issued(None, wait)
    bound = email_otp.hash_binding(key, binding)
    # Only the newest code of a binding is ever looked at; the mark also closes the
    # race of a verify that read the old code just before this resend (its
    # conditional UPDATE requires superseded_at IS NULL).
    db.execute(
        update(EmailCode)
        .where(
            _owner(user_id, registration_id),
            EmailCode.purpose == purpose.value,
            EmailCode.binding == bound,
            EmailCode.superseded_at.is_(None),
        )
        .values(superseded_at=t)
        .execution_options(synchronize_session=False)
    )
    code = email_otp.new_code()
    db.add(
        EmailCode(
            user_id=user_id if registration_id is None else None,
            registration_id=registration_id,
            purpose=purpose.value,
            binding=bound,
            sent_to=sent_to,
            code_hash=email_otp.hash_code(key, code),
            attempts=0,
            created_at=t,
            expires_at=email_otp.expires_at(policy, t),
        )
    )
    db.flush()
    return Issued(code)


def _try(
    db: Session,
    settings: Settings,
    user_id: int | None,
    registration_id: int | None,
    purpose: Purpose,
    binding: str,
    code: str,
    t: int,
) -> Verdict:
    """One try of ``code`` against the binding's latest code. Commits."""
    policy, key = email_otp.POLICIES[purpose], email_otp.code_key(settings.secret_key)
    row = _latest(db, key, user_id, purpose, binding, registration_id)
    stored = _stored(row)
    outcome = email_otp.judge(policy, stored, code, t, key)
    if row is not None and outcome is Outcome.ACCEPTED:
        won = db.execute(
            update(EmailCode)
            .where(
                EmailCode.id == row.id,
                EmailCode.used_at.is_(None),
                EmailCode.superseded_at.is_(None),
                EmailCode.attempts < policy.max_attempts,
                EmailCode.expires_at > t,
            )
            .values(used_at=t)
            .execution_options(synchronize_session=False)
        ).rowcount
        outcome = Outcome.ACCEPTED if won == 1 else Outcome.SPENT
    elif row is not None and email_otp.is_live(policy, stored, t):
        db.execute(
            update(EmailCode)
            .where(EmailCode.id == row.id, EmailCode.attempts < policy.max_attempts)
            .values(attempts=EmailCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    db.commit()
    accepted = row is not None and outcome is Outcome.ACCEPTED
    return Verdict(outcome, row.sent_to if accepted else None)


def verify(
    db: Session, settings: Settings, user_id: int, purpose: Purpose, binding: str, code: str
) -> Verdict:
    """Try ``code`` against the latest code of (account, purpose, binding), as one
    attempt of the shared lockout. Commits.

    A right code is used once (a conditional UPDATE: two requests with it cannot both
    pass); a wrong one costs one of the code's tries and one failure of the account.
    While the account is locked nothing is checked: :attr:`Outcome.LOCKED`."""
    verdict = Verdict(Outcome.SPENT)

    def check(t: int) -> bool:
        nonlocal verdict
        verdict = _try(db, settings, user_id, None, purpose, binding, code, t)
        return verdict.accepted

    result = lockout.guarded(
        db, user_id, now(), settings.lockout_threshold, settings.lockout_seconds, check
    )
    if result is None:
        return Verdict(Outcome.LOCKED)
    return verdict


def verify_registration(
    db: Session, settings: Settings, registration_id: int, binding: str, code: str
) -> Verdict:
    """Try a registration's code (:attr:`Purpose.REGISTRATION`). There is no account
    whose lockout could count it: the code's own 5 tries and the registration's cap
    on codes sent (:mod:`idp.enrollment.registration`) bound the guessing. Commits."""
    return _try(db, settings, None, registration_id, Purpose.REGISTRATION, binding, code, now())


def was_sent(db: Session, settings: Settings, user_id: int, purpose: Purpose, binding: str) -> bool:
    """Was any code ever issued for (account, purpose, binding), live or not?"""
    key = email_otp.code_key(settings.secret_key)
    return _latest(db, key, user_id, purpose, binding) is not None


def pending(
    db: Session,
    settings: Settings,
    user_id: int | None,
    purpose: Purpose,
    binding: str,
    *,
    registration_id: int | None = None,
) -> Pending | None:
    """The binding's code while it can still be accepted, else None."""
    policy, key, t = email_otp.POLICIES[purpose], email_otp.code_key(settings.secret_key), now()
    row = _latest(db, key, user_id, purpose, binding, registration_id)
    if row is None or not email_otp.is_live(policy, _stored(row), t):
        return None
    return Pending(sent_to=row.sent_to, expires_at=row.expires_at)


def resend_wait(
    db: Session,
    settings: Settings,
    user_id: int | None,
    purpose: Purpose,
    binding: str,
    *,
    registration_id: int | None = None,
) -> int | None:
    """Seconds before another code may be sent for the binding (0: now); None when
    none was ever sent."""
    policy, key = email_otp.POLICIES[purpose], email_otp.code_key(settings.secret_key)
    last = _latest(db, key, user_id, purpose, binding, registration_id)
    if last is None:
        return None
    return email_otp.resend_wait(policy, last.created_at, now())
