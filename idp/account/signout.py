"""Ending a person's browser sessions: the one front door (issue 11) that the logout
pages, the sessions list on /account, the operator console, password reset and
disabling an account all call. Each ended session's clients are told through
back-channel logout (:mod:`idp.oidc.backchannel`); refresh tokens are a separate
decision of the caller (:func:`idp.oidc.revocation.end_grants`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from idp.models import User, WebSession
from idp.oidc import backchannel

# Why a session ended: the audit event's and the logout delivery's reason.
REASONS = (
    "logout",
    "ended_by_owner",
    "ended_by_operator",
    "password_reset",
    "password_changed",
    "account_disabled",
    "account_closed",
    "expired",  # past its idle or absolute lifetime, purged by `idp jobs run`
)


def end_sessions(
    db: Session,
    user: User,
    reason: str,
    *,
    sids: list[str] | None = None,
    keep_sid: str | None = None,
    only: ColumnElement[bool] | None = None,
) -> list[str]:
    """End ``user``'s browser sessions: those in ``sids`` (None: all of them) except
    ``keep_sid`` (the session making the request, when it stays). Their rows are
    deleted at once, so a cookie of an ended session is worthless on its next request
    (S-03), and a logout token is queued for each client signed in through each. Returns
    the ended sessions' ``sid``s. ``only``: a further condition on the rows (the purge's
    "still expired", so a session renewed meanwhile is left alone). Flushes; the caller
    commits (then delivers)."""
    if reason not in REASONS:
        raise ValueError(reason)
    query = select(WebSession.sid).where(WebSession.user_id == user.id)
    if sids is not None:
        query = query.where(WebSession.sid.in_(sids))
    if keep_sid is not None:
        query = query.where(WebSession.sid != keep_sid)
    if only is not None:
        query = query.where(only)
    ended = list(db.scalars(query))
    if ended:
        gone = delete(WebSession).where(WebSession.sid.in_(ended))
        db.execute(gone.where(only) if only is not None else gone)
    backchannel.enqueue(db, user, ended, reason)
    return ended
