"""Server-side sessions behind Flask's ``session`` (ASVS 7.4.1, SECURITY.md 0.8).

The cookie carries 256 random bits; the table stores their SHA-256, the session data
and its times. Logout deletes the row, so a replayed cookie is worthless (S-03).
``rotate()`` gives the session a new id while keeping its data: done at login and at
every privilege change (S-02). Requests without a cookie (API clients) never touch
the database here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import ColumnElement, bindparam, delete, insert, or_, select, update
from werkzeug.datastructures import CallbackDict

from idp.db import get_db, now
from idp.models import WebSession
from idp.oidc.reads import read_connection

LAST_SEEN_GRANULARITY = 60

# Every browser request reads its session and many write it: Core statements built
# once, on the table, each on a pooled connection of its own (the read in autocommit),
# outside the request's ORM session (issue 12: the session's load and save were a
# sixth of a password login's CPU besides the hash).
_sessions = WebSession.__table__
_columns = _sessions.c
SESSION_BY_DIGEST = select(
    _columns.id, _columns.sid, _columns.data, _columns.created_at, _columns.last_seen
).where(_columns.id_hash == bindparam("digest"))
DELETE_SESSION = delete(_sessions).where(_columns.id == bindparam("row_id"))
NEW_SESSION = insert(_sessions)
TOUCH_SESSION = (
    update(_sessions).where(_columns.id == bindparam("row_id")).values(last_seen=bindparam("t"))
)
SAVE_SESSION = (
    update(_sessions)
    .where(_columns.id == bindparam("row_id"))
    .values(last_seen=bindparam("t"), data=bindparam("payload"), user_id=bindparam("for_user"))
)


def expired(settings: Any, t: int) -> ColumnElement[bool]:
    """The rows past their idle or absolute lifetime at ``t`` (ASVS 7.3.1, 7.3.2): their
    cookies are refused; ``idp jobs run`` ends them (``jobs.purge_sessions``)."""
    return or_(
        WebSession.last_seen < t - settings.session_idle_ttl,
        WebSession.created_at < t - settings.session_absolute_ttl,
    )


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict | None = None, row_id: int | None = None, sid: str = ""):
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.row_id = row_id
        # `sid` (OIDC Front/Back-Channel Logout) names the session in ID tokens; it is
        # known before the row is written so a code issued in this request can carry it.
        self.sid = sid or secrets.token_urlsafe(16)
        self.modified = False
        self.rotate_requested = False
        self.destroy_requested = False
        self.touch = False

    def rotate(self, *, keep_sid: bool = False) -> None:
        """Give this session a new id at the end of the request (fixation defence).
        ``keep_sid``: the same person's login goes on (a second factor, signing in
        again), so the ``sid`` their clients' tokens name stays, and ending this
        session still reaches those clients (Back-Channel Logout; issue 11). A new
        person's login always gets a new ``sid``."""
        self.rotate_requested = True
        if not keep_sid:
            self.sid = secrets.token_urlsafe(16)
        self.modified = True

    def destroy(self) -> None:
        """End the session: the row is deleted and the cookie cleared."""
        self.clear()
        self.destroy_requested = True


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, idle_ttl: int, absolute_ttl: int, secure: bool) -> None:
        self.idle_ttl = idle_ttl
        self.absolute_ttl = absolute_ttl
        self.secure = secure
        # __Host- needs Secure; on plain-http development we drop the prefix.
        self.cookie_name = "__Host-idp_session" if secure else "idp_session"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        raw = request.cookies.get(self.cookie_name)
        if not raw or len(raw) > 100:
            return ServerSession()
        with read_connection(app) as connection:
            row = connection.execute(SESSION_BY_DIGEST, {"digest": _digest(raw)}).first()
        if row is None:
            return ServerSession()
        t = now()
        if t - row.last_seen > self.idle_ttl or t - row.created_at > self.absolute_ttl:
            # Refused, and left to `idp jobs run`, which ends it through the front door
            # (signout.end_sessions): its clients get their back-channel logout. Until
            # then the row is inert: refused here, left out of the sessions page (and
            # were the limits raised meanwhile, it would count as live again).
            return ServerSession()
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}
        sess = ServerSession(data, row_id=row.id, sid=row.sid)
        sess.touch = t - row.last_seen >= LAST_SEEN_GRANULARITY
        return sess

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        engine = get_db(app).engine
        name = self.cookie_name
        cookie_args = {
            "httponly": True,
            "secure": self.secure,
            "samesite": "Lax",
            "path": "/",
        }
        if session.destroy_requested or (session.row_id is not None and not session):
            if session.row_id is not None:
                with engine.begin() as connection:
                    connection.execute(DELETE_SESSION, {"row_id": session.row_id})
            response.delete_cookie(name, path="/", secure=self.secure, httponly=True)
            return
        if not session.modified and not session.touch:
            return
        if session.row_id is None and not session:
            return
        t = now()
        payload = json.dumps(dict(session), separators=(",", ":"))
        user_id = session.get("_user_id")
        user_id = int(user_id) if user_id is not None else None
        with engine.begin() as connection:
            if session.row_id is None or session.rotate_requested:
                raw = secrets.token_urlsafe(32)
                if session.row_id is not None:
                    connection.execute(DELETE_SESSION, {"row_id": session.row_id})
                new_row = {
                    "id_hash": _digest(raw),
                    "sid": session.sid,
                    "user_id": user_id,
                    "data": payload,
                    "user_agent": (request.headers.get("User-Agent") or "")[:300],
                    "ip": (request.remote_addr or "")[:45],
                    "created_at": t,
                    "last_seen": t,
                }
                connection.execute(NEW_SESSION, new_row)
                response.set_cookie(name, raw, **cookie_args)
                response.vary.add("Cookie")
                return
            if session.modified:
                params = {"row_id": session.row_id, "t": t, "payload": payload}
                connection.execute(SAVE_SESSION, {**params, "for_user": user_id})
            else:
                connection.execute(TOUCH_SESSION, {"row_id": session.row_id, "t": t})


def end_user_sessions(db_session: Any, user_id: int) -> None:
    """Delete every browser session of a user (sign out everywhere)."""
    db_session.execute(delete(WebSession).where(WebSession.user_id == user_id))
