"""Account lockout counted in the database, atomically (SECURITY.md 0.4 d).

An attempt first *reserves* a slot with one conditional UPDATE; only a request that
got a slot may verify the password. So N parallel guesses perform at most
``threshold`` verifications (A-06), and the count cannot lose updates. A failure
that reaches the threshold sets ``locked_until``; a success clears both. Attempts
while locked are refused without touching the counter, so they do not extend the lock
(A-04, documented rule). When the lock has expired the next attempt starts a new count.

A password sign-in also counts per typed identifier (``IdentifierCounter``, the same
rules), for unknown names too. The account counter decides whether a password is
verified; the identifier counter decides what the login page says: "sign-in with this
name is paused" comes only from it, so it reads the same for a name nobody has (the
message confirms no account: ASVS 6.3.8, SECURITY.md A-02). A name that is paused is
not verified either.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp import crypto
from idp.account.identifiers import username_key
from idp.models import IdentifierCounter, User
from idp.ops import metrics

IDENTIFIER_KEY_INFO = b"idp sign-in identifiers"


def _take_slot(db: Session, model: Any, where: Any, t: int, threshold: int, **also: Any) -> bool:
    """The conditional UPDATE that counts one attempt (no commit); ``also``: more
    columns to set with it."""
    expired = and_(model.locked_until.is_not(None), model.locked_until <= t)
    result = db.execute(
        update(model)
        .where(
            where,
            or_(expired, and_(model.locked_until.is_(None), model.failed_logins < threshold)),
        )
        .values(
            failed_logins=case((expired, 1), else_=model.failed_logins + 1),
            locked_until=case((expired, None), else_=model.locked_until),
            **also,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _lock_if_full(
    db: Session, model: Any, where: Any, t: int, threshold: int, lock_seconds: int
) -> None:
    locked = db.execute(
        update(model)
        .where(where, model.failed_logins >= threshold, model.locked_until.is_(None))
        .values(locked_until=t + lock_seconds)
        .execution_options(synchronize_session=False)
    ).rowcount
    if locked:  # this attempt started the lock (issue 13: idp_lockouts)
        metrics.lock_started("account" if model is User else "identifier")


def reserve_attempt(db: Session, user_id: int, t: int, threshold: int) -> bool:
    """Take one attempt slot; False while the account is locked (or full)."""
    taken = _take_slot(db, User, User.id == user_id, t, threshold)
    db.commit()
    return taken


def record_failure(db: Session, user_id: int, t: int, threshold: int, lock_seconds: int) -> None:
    """The reserved attempt failed: lock when the count has reached the threshold."""
    _lock_if_full(db, User, User.id == user_id, t, threshold, lock_seconds)
    db.commit()


def record_success(db: Session, user_id: int) -> None:
    db.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    db.commit()


def guarded(
    db: Session,
    user_id: int,
    t: int,
    threshold: int,
    lock_seconds: int,
    check: Callable[[int], bool],
) -> bool | None:
    """Run ``check(t)`` as one counted attempt: the front door for every second factor
    and emailed code (SECURITY.md 0.4 b: one counter with the password).

    Returns None when the account is locked (``check`` is not run), else the result
    of ``check``: True clears the counter, False counts a failure and may lock.
    """
    if not reserve_attempt(db, user_id, t, threshold):
        return None
    if check(t):
        record_success(db, user_id)
        return True
    record_failure(db, user_id, t, threshold, lock_seconds)
    return False


def identifier_digest(secret_key: str, identifier: str) -> str:
    """The identifier counter's key: an HMAC of the normalised username or email (its
    variants share one counter, A-05) under a key derived from IDP_SECRET_KEY."""
    key = crypto.derive_key(secret_key, IDENTIFIER_KEY_INFO)
    return hmac.new(key, username_key(identifier).encode(), hashlib.sha256).hexdigest()


def _ensure_identifier_row(db: Session, key: str, t: int) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: parallel first attempts make one row."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(IdentifierCounter)
        .values(key_hash=key, failed_logins=0, locked_until=None, last_attempt_at=t)
        .on_conflict_do_nothing(index_elements=["key_hash"])
    )


def reserve_sign_in(
    db: Session, key: str, user_id: int | None, t: int, threshold: int
) -> tuple[bool, bool]:
    """Count one password attempt for the typed identifier and, when it names an
    account, for the account, in one commit: (identifier slot taken, account slot
    taken). A paused identifier takes no account slot; a password is verified only
    with both."""
    where = IdentifierCounter.key_hash == key
    for _ in range(3):
        _ensure_identifier_row(db, key, t)
        by_name = _take_slot(db, IdentifierCounter, where, t, threshold, last_attempt_at=t)
        if by_name or db.scalar(select(IdentifierCounter.key_hash).where(where)) is not None:
            break
        # The count was deleted between the insert and the update: a right password
        # for the same name, committed meanwhile (another device), or the purge. The
        # name is not paused; count again (found by bench/bench.py's parallel logins,
        # which saw "sign-in paused" for a name that had never failed).
    by_account = False
    if by_name and user_id is not None:
        by_account = _take_slot(db, User, User.id == user_id, t, threshold)
    db.commit()
    return by_name, by_account


def sign_in_failed(
    db: Session,
    key: str,
    user_id: int | None,
    t: int,
    threshold: int,
    lock_seconds: int,
) -> bool:
    """The counted attempt failed (``user_id``: the account's slot was taken too): lock
    what is full, in one commit. True when the identifier is now paused."""
    where = IdentifierCounter.key_hash == key
    _lock_if_full(db, IdentifierCounter, where, t, threshold, lock_seconds)
    if user_id is not None:
        _lock_if_full(db, User, User.id == user_id, t, threshold, lock_seconds)
    locked_until = db.scalar(select(IdentifierCounter.locked_until).where(where))
    db.commit()
    return locked_until is not None and locked_until > t


def sign_in_succeeded(db: Session, key: str) -> None:
    """The right password: the identifier's count starts again (the account's count
    follows ``services.login_completed``)."""
    db.execute(delete(IdentifierCounter).where(IdentifierCounter.key_hash == key))
    db.commit()


def clear_identifiers(db: Session, secret_key: str, user: User) -> None:
    """An operator lifts a lockout: the person's username and email count from zero
    too (the caller commits)."""
    keys = [identifier_digest(secret_key, v) for v in (user.username_key, user.email_key)]
    db.execute(delete(IdentifierCounter).where(IdentifierCounter.key_hash.in_(keys)))


def purge_identifiers(db: Session, before: int, t: int) -> int:
    """Drop identifier counts last touched before ``before`` and not paused at ``t``
    (``idp jobs run``; the caller commits)."""
    result = db.execute(
        delete(IdentifierCounter).where(
            IdentifierCounter.last_attempt_at < before,
            or_(IdentifierCounter.locked_until.is_(None), IdentifierCounter.locked_until <= t),
        )
    )
    return result.rowcount
