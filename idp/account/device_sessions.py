"""A person's browser sessions (issue 11, SECURITY.md S-03): the list on /account
(device, address, times, the applications signed in through each), ending one or all
others there, an operator ending all of them, and signing out. Every way goes through
:func:`idp.account.signout.end_sessions`, which deletes the rows at once (the ended
cookie is signed out on its next request) and queues the back-channel logout tokens.

Refresh tokens: the owner or an operator ending a session also ends the grants made
through it (the person wants that device's applications out); a plain sign-out ends
only those without ``offline_access`` (Back-Channel Logout 1.0 section 2.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request
from flask import session as web_session
from flask_login import logout_user
from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from idp.account import panels, sessions
from idp.account.devices import Device, describe
from idp.account.signout import end_sessions
from idp.audit import AuditTag, record
from idp.db import now
from idp.models import Client, Grant, User, WebSession
from idp.oidc.revocation import end_grants

REASON_MAX = 200


@dataclass(frozen=True)
class SessionRow:
    """One session as its owner sees it."""

    sid: str
    device: Device
    user_agent: str
    ip: str
    created_at: int
    last_seen: int
    is_current: bool
    applications: list[str] = field(default_factory=list)


def current_sid() -> str | None:
    """The requesting browser's session id, if it has a stored session."""
    return getattr(web_session, "sid", None) if getattr(web_session, "row_id", None) else None


def list_sessions(db: Session, user: User, current: str | None) -> list[SessionRow]:
    """``user``'s live sessions, this one first, then the most recently used (an
    expired one waits for ``idp jobs run`` to end it, and is not shown)."""
    settings = current_app.extensions["idp_settings"]
    rows = list(
        db.scalars(
            select(WebSession).where(
                WebSession.user_id == user.id, ~sessions.expired(settings, now())
            )
        )
    )
    apps: dict[str, list[str]] = {}
    if rows:
        for sid, name in db.execute(
            select(Grant.sid, Client.name)
            .join(Client, Client.client_id == Grant.client_id)
            .where(Grant.user_id == user.id, Grant.sid.in_([r.sid for r in rows]))
            .distinct()
            .order_by(Client.name)
        ):
            apps.setdefault(sid, []).append(name)
    out = [
        SessionRow(
            sid=r.sid,
            device=describe(r.user_agent or ""),
            user_agent=r.user_agent or "",
            ip=r.ip or "",
            created_at=r.created_at,
            last_seen=r.last_seen,
            is_current=r.sid == current,
            applications=apps.get(r.sid, []),
        )
        for r in rows
    ]
    return sorted(out, key=lambda s: (not s.is_current, -s.last_seen))


@panels.panel
def _sessions_panel(db: Session, user: User) -> dict:
    from idp.account.session_messages import session_messages

    return {
        "device_sessions": list_sessions(db, user, current_sid()),
        "sessions_notice": session_messages().get(request.args.get("m", "")),
        "session_limits": SessionLimits.of(current_app.extensions["idp_settings"]),
    }


@dataclass(frozen=True)
class SessionLimits:
    """SECURITY.md section 7 (S-04): 1 h idle, 24 h absolute (IDP_SESSION_IDLE_TTL,
    IDP_SESSION_ABSOLUTE_TTL), as the page words them."""

    idle_minutes: int
    absolute_hours: int

    @classmethod
    def of(cls, settings: Any) -> SessionLimits:
        return cls(settings.session_idle_ttl // 60, settings.session_absolute_ttl // 3600)


def end_own(db: Session, user: User, *, sids: list[str] | None, current: str | None) -> list[str]:
    """The owner ends ``sids`` of their sessions (None: all but ``current``); the
    current one is never ended here (that is signing out). Another person's sid ends
    nothing. Audited; returns the ended sids. The caller commits."""
    ended = end_sessions(db, user, "ended_by_owner", sids=sids, keep_sid=current)
    if ended:
        end_grants(db, Grant.user_id == user.id, Grant.sid.in_(ended))
        record(
            db,
            AuditTag.ACCOUNT_SESSIONS_ENDED,
            actor=user.id,
            subject=user.id,
            sessions=len(ended),
            scope="one" if sids is not None else "all_others",
        )
    return ended


class ReasonMissing(ValueError):
    pass


def end_by_operator(db: Session, user: User, reason: str, *, actor: int) -> list[str]:
    """An operator ends all of ``user``'s sessions and refresh tokens (a required
    free-text reason, kept in the audit record). The caller commits."""
    reason = " ".join(reason.split())[:REASON_MAX]
    if not reason:
        raise ReasonMissing
    ended = end_sessions(db, user, "ended_by_operator")
    end_grants(db, Grant.user_id == user.id)
    record(
        db,
        AuditTag.OP_SESSIONS_ENDED,
        actor=actor,
        subject=user.id,
        sessions=len(ended),
        reason=reason,
    )
    return ended


def sign_out(db: Session, user: User | None) -> None:
    """Sign the requesting browser out (the logout pages): its session ends through the
    front door first, so its clients are told (back-channel logout), then the cookie
    is cleared. Commits."""
    sid = current_sid()
    if user is not None and sid:
        end_sessions(db, user, "logout", sids=[sid])
        end_grants(
            db,
            Grant.user_id == user.id,
            Grant.sid == sid,
            not_(Grant.scope.contains("offline_access")),
        )
        db.commit()
    logout_user()
    web_session.destroy()
