"""A person's password: changing it on /account (SECURITY.md A-08), choosing one when an
operator made the account or asked for it (MISSION B2), and the operator's request.

One front door, :func:`set_password`, for both pages::

    change (current password right) --+
                                      +--> set_password: new hash, password_changed_at,
    forced (must_change_password) ----+    flag cleared, other sessions and their grants
                                           end, audit; the view rotates this session and
                                           mails the person

- The current password is checked as one counted attempt on the account's lockout
  counter (``lockout.guarded``), the one a wrong sign-in, a wrong one-time code and a
  wrong emailed code count on (SECURITY.md 0.4 b): a wrong one counts, the threshold
  locks, and while locked even the right one is refused (0.4 a). A right one clears
  the counter as a completed login does: the session already passed every factor the
  person was asked for.
- Other sessions end through ``signout.end_sessions(..., "password_changed",
  keep_sid=...)``; the grants (refresh and access tokens) made through them end with
  ``revocation.end_grants``. This session stays signed in. Its own refresh tokens made
  before the change stop refreshing too (``oidc.refresh``: a grant older than the
  password fails): the browser session is kept, so its applications get new tokens
  through it without a password; its access tokens run to their (short) expiry.
- The new password must differ from the current one and follow the policy
  (``passwords.password_problem``).
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.orm import Session

from idp.account import lockout
from idp.account.identifiers import email_key, username_key
from idp.account.passwords import hash_password, password_problem, verify_password
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.config import Settings
from idp.models import Grant, User
from idp.oidc.revocation import end_grants

REASON_MAX = 200


class PasswordChangeRefused(ValueError):
    """``code``: current_wrong | locked | password_mismatch | password_same | a
    ``password_problem`` code | reason_missing; ``field``: the form field it is about."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def check_new_password(user: User, new: str, confirm: str) -> None:
    """The new password's rules; raises :class:`PasswordChangeRefused`."""
    problem = password_problem(
        new, (username_key(user.username), email_key(user.email).split("@")[0])
    )
    if problem:
        raise PasswordChangeRefused(problem, "new_password")
    if new != confirm:
        raise PasswordChangeRefused("password_mismatch", "confirm_password")
    if verify_password(user.password_hash, new):
        raise PasswordChangeRefused("password_same", "new_password")


def check_current_password(
    db: Session, settings: Settings, user: User, current: str, t: int
) -> None:
    """The current password as one counted attempt (commits the count); raises
    ``current_wrong`` or ``locked`` (also for the right password while locked)."""
    outcome = lockout.guarded(
        db,
        user.id,
        t,
        settings.lockout_threshold,
        settings.lockout_seconds,
        lambda _t: verify_password(user.password_hash, current),
    )
    if outcome is None:
        raise PasswordChangeRefused("locked", "current_password")
    if not outcome:
        raise PasswordChangeRefused("current_wrong", "current_password")


def set_password(db: Session, user: User, new: str, *, keep_sid: str, t: int, forced: bool) -> int:
    """Give ``user`` the (checked) password ``new`` at ``t``: clears
    ``must_change_password``, ends the other sessions and their grants, audits
    ``account:password:changed``. Returns how many sessions ended. Flushes; the
    caller commits, rotates this session and mails the person."""
    user.password_hash = hash_password(new)
    user.password_changed_at = t
    user.must_change_password = False
    user.updated_at = t
    ended = end_sessions(db, user, "password_changed", keep_sid=keep_sid)
    end_grants(db, Grant.user_id == user.id, or_(Grant.sid.is_(None), Grant.sid != keep_sid))
    record(
        db,
        AuditTag.ACCOUNT_PASSWORD_CHANGED,
        actor=user.id,
        subject=user.id,
        forced=forced,
        sessions_ended=len(ended),
    )
    db.flush()
    return len(ended)


def require_change(db: Session, user_id: int, reason: str, actor: int) -> User:
    """An operator asks the person to choose a new password at the next sign-in
    (``op:user:password_change_required``, with the reason). Raises LookupError for an
    unknown account, ``reason_missing`` for an empty reason. The caller commits."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    reason = " ".join(reason.split())[:REASON_MAX]
    if not reason:
        raise PasswordChangeRefused("reason_missing", "reason")
    user.must_change_password = True
    record(db, AuditTag.OP_PASSWORD_CHANGE_REQUIRED, actor=actor, subject=user_id, reason=reason)
    return user
