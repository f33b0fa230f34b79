"""OpenID Connect Back-Channel Logout 1.0, the sending side (issue 11).

When a browser session ends, every client that got tokens through it (a grant with
the session's ``sid``) and registered a ``backchannel_logout_uri`` is sent a signed
``logout_token`` (section 2.4: iss, aud, iat, exp, jti, sid, sub and the logout event).
:func:`enqueue` writes one :class:`~idp.models.LogoutDelivery` per client in the
caller's transaction, so a rolled-back request sends nothing; delivery happens off the
request path, with retries (:func:`deliver_due`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from flask import current_app
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import Client, Grant, LogoutDelivery, User

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TTL = 120  # seconds: section 2.4 asks for a short-lived token


def build_logout_token(
    ring: Any, *, issuer: str, client_id: str, alg: str, sub: str, sid: str, t: int
) -> str:
    """A logout token for one client (Back-Channel Logout 1.0 section 2.4): never a
    ``nonce`` (2.4: it must not have one), ``typ`` logout+jwt (2.4 recommends it)."""
    key = ring.signing_key(alg)
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": t,
        "exp": t + TOKEN_TTL,
        "jti": secrets.token_urlsafe(16),
        "sub": sub,
        "sid": sid,
        "events": {LOGOUT_EVENT: {}},
    }
    header = {"alg": alg, "kid": key.kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, key, algorithms=[alg])


def enqueue(db: Session, user: User, sids: Iterable[str], reason: str) -> list[LogoutDelivery]:
    """Queue a logout token for each client signed in through each of ``sids`` (a
    grant carries the session's ``sid``) that has a ``backchannel_logout_uri``. A
    client the sessions never got tokens for is told nothing. Flushes; the caller
    commits."""
    sids = [s for s in sids if s]
    if not sids:
        return []
    # DISTINCT over ids only: PostgreSQL has no equality for the clients' json columns.
    id_pairs = db.execute(
        select(Grant.sid, Client.id)
        .join(Client, Client.client_id == Grant.client_id)
        .where(
            Grant.user_id == user.id,
            Grant.sid.in_(sids),
            Client.backchannel_logout_uri.is_not(None),
        )
        .distinct()
    ).all()
    if not id_pairs:
        return []
    pairs = [(sid, db.get(Client, client_id)) for sid, client_id in id_pairs]
    settings = current_app.extensions["idp_settings"]
    ring = current_app.extensions["idp_keys"].get(db)
    t = now()
    queued = []
    for sid, client in pairs:
        token = build_logout_token(
            ring,
            issuer=settings.issuer,
            client_id=client.client_id,
            alg=client.id_token_alg,
            sub=user.sub,
            sid=sid,
            t=t,
        )
        row = LogoutDelivery(
            client_id=client.client_id,
            uri=client.backchannel_logout_uri,
            sid=sid,
            sub=user.sub,
            token=token,
            reason=reason,
            created_at=t,
            attempts=0,
            due_at=t,
            last_error="",
        )
        db.add(row)
        queued.append(row)
    db.flush()
    return queued
