"""Account lockout counted in the database, atomically (SECURITY.md 0.4 d).

An attempt first *reserves* a slot with one conditional UPDATE; only a request that
got a slot may verify the password. So N parallel guesses perform at most
``threshold`` verifications (A-06), and the count cannot lose updates. A failure
that reaches the threshold sets ``locked_until``; a success clears both. Attempts
while locked are refused without touching the counter, so they do not extend the lock
(A-04, documented rule). When the lock has expired the next attempt starts a new count.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, case, or_, update
from sqlalchemy.orm import Session

from idp.models import User


def reserve_attempt(db: Session, user_id: int, t: int, threshold: int) -> bool:
    """Take one attempt slot; False while the account is locked (or full)."""
    expired = and_(User.locked_until.is_not(None), User.locked_until <= t)
    result = db.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(expired, and_(User.locked_until.is_(None), User.failed_logins < threshold)),
        )
        .values(
            failed_logins=case((expired, 1), else_=User.failed_logins + 1),
            locked_until=case((expired, None), else_=User.locked_until),
        )
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return result.rowcount == 1


def record_failure(db: Session, user_id: int, t: int, threshold: int, lock_seconds: int) -> None:
    """The reserved attempt failed: lock when the count has reached the threshold."""
    db.execute(
        update(User)
        .where(User.id == user_id, User.failed_logins >= threshold, User.locked_until.is_(None))
        .values(locked_until=t + lock_seconds)
        .execution_options(synchronize_session=False)
    )
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
