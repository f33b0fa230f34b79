"""Operator decisions on people's accounts: disable, enable, unlock, and the operator
right itself. Disabling ends everything at once (SECURITY.md E-08): browser sessions,
grants with their access and refresh tokens, and consents; login, refresh and userinfo
already refuse an inactive account. Sessions end through the one front door
(:func:`idp.account.signout.end_sessions`), so their clients are told (back-channel
logout). A closed account (:mod:`idp.account.data_rights`) is never enabled again."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.account.lockout import clear_identifiers
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.db import now
from idp.models import Consent, Grant, User
from idp.oidc.revocation import end_grants


class AccountChangeRefused(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


REASONS = ("left", "compromised", "request", "other")


def set_active(db: Session, user_id: int, active: bool, reason: str, actor: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    if user_id == actor:
        raise AccountChangeRefused("self")  # an operator never locks themself out
    if reason not in REASONS:
        raise AccountChangeRefused("reason_missing")
    if active and user.closed_at is not None:
        raise AccountChangeRefused("closed_not_enabled")
    before, user.is_active, user.updated_at = user.is_active, active, now()
    if not active:
        end_sessions(db, user, "account_disabled")
        end_grants(db, Grant.user_id == user_id)
        db.execute(delete(Consent).where(Consent.user_id == user_id))
    record(
        db,
        AuditTag.OP_USER_ACTIVE_CHANGED,
        actor=actor,
        subject=user_id,
        before=before,
        after=active,
        reason=reason,
    )
    return user


def unlock(db: Session, user_id: int, actor: int, secret_key: str) -> None:
    """Lift a lockout after failed logins (the person proved who they are elsewhere):
    the account's count and those of its username and email."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    before = {"failed_logins": user.failed_logins, "locked_until": user.locked_until}
    user.failed_logins, user.locked_until = 0, None
    clear_identifiers(db, secret_key, user)
    record(
        db,
        AuditTag.OP_USER_UNLOCKED,
        actor=actor,
        subject=user_id,
        before=before,
        after={"failed_logins": 0, "locked_until": None},
    )


def set_operator(db: Session, user_id: int, is_operator: bool, *, via: str) -> User:
    """Give or take the platform operator right. Only the command line (``idp users
    set-operator``, ``via="cli"``) and the demo seed call this: no web form sets the
    right (SECURITY.md E-04), so no person is acting (actor None, the system). Audited
    even when nothing changes: someone asked for it."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    before, user.is_operator = user.is_operator, is_operator
    record(
        db,
        AuditTag.OP_OPERATOR_SET,
        actor=None,
        subject=user_id,
        before=before,
        after=is_operator,
        via=via,
    )
    return user
