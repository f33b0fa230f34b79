"""What the browser session has proven, kept in the server-side session:
``session["auth"] = {"factors": {kind: time}, "time": latest}``. Every change of it
rotates the session id (SECURITY.md S-02: login, step-up, privilege change)."""

from __future__ import annotations

from flask import session
from flask_login import login_user

from idp.db import now
from idp.mfa.policy import PASSWORD
from idp.models import User


def factors() -> dict[str, int]:
    return dict((session.get("auth") or {}).get("factors") or {})


def start_login(user: User) -> None:
    """A password login starts a new set of proven factors (the same person signing in
    again keeps the session's ``sid``: see ServerSession.rotate)."""
    session.rotate(keep_sid=session.get("_user_id") == str(user.id))
    login_user(user)
    t = now()
    session["auth"] = {"factors": {PASSWORD: t}, "time": t}


def add_factor(kind: str) -> None:
    proven = factors()
    proven[kind] = now()
    session.rotate(keep_sid=True)
    session["auth"] = {"factors": proven, "time": max(proven.values())}


REAUTH_SECONDS = 600


def recently_authenticated() -> bool:
    """A password within the last 10 minutes (re-authentication before factor changes)."""
    return now() - factors().get(PASSWORD, 0) <= REAUTH_SECONDS
