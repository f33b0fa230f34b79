"""OpenID Connect Back-Channel Logout 1.0, the sending side (issue 11).

When a browser session ends, every client that got tokens through it (a grant with
the session's ``sid``) and registered a ``backchannel_logout_uri`` is sent a signed
``logout_token`` (section 2.4: iss, aud, iat, exp, jti, sid, sub and the logout event).
:func:`enqueue` writes one :class:`~idp.models.LogoutDelivery` per client in the
caller's transaction, so a rolled-back request sends nothing; delivery happens off the
request path, with retries (:func:`deliver_due`).

A delivery's life::

    queued (due_at = now) --POST 200/204--> delivered (delivered_at)
       |  ^
       |  +-- failed, attempts < N: due_at = now + next_delay(attempts)
       +-- failed, attempts = N (IDP_BACKCHANNEL_LOGOUT_ATTEMPTS), or the client no
           longer has a backchannel_logout_uri --> gave_up (gave_up_at)

The first try runs right after the ending request commits (the worker in
:mod:`idp.oidc.backchannel_worker`, handed the new ids by :func:`_after_commit`);
retries run from ``idp jobs run``. Each outcome is audited and logged, never the token.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any

import requests
from flask import current_app
from joserfc import jwt
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.config import Settings
from idp.db import now
from idp.models import Client, Grant, LogoutDelivery, User

log = logging.getLogger(__name__)

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
    # DISTINCT over (sid, client_id) only: PostgreSQL has no equality for the
    # client's JSON columns.
    keys = db.execute(
        select(Grant.sid, Grant.client_id)
        .join(Client, Client.client_id == Grant.client_id)
        .where(
            Grant.user_id == user.id,
            Grant.sid.in_(sids),
            Client.backchannel_logout_uri.is_not(None),
        )
        .distinct()
    ).all()
    clients = {
        c.client_id: c
        for c in db.scalars(select(Client).where(Client.client_id.in_({k[1] for k in keys})))
    }
    pairs = [(sid, clients[client_id]) for sid, client_id in keys]
    if not pairs:
        return []
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
    pending = db.info.setdefault(_PENDING, [])
    pending.extend(row.id for row in queued)
    db.info[_APP] = current_app._get_current_object()  # type: ignore[attr-defined]
    return queued


# The ids queued in a session's transaction, handed to the worker once it commits (a
# rolled-back request sends nothing).
_PENDING = "idp_logout_deliveries"
_APP = "idp_logout_app"


@event.listens_for(Session, "after_commit")
def _after_commit(db: Session) -> None:
    ids = db.info.pop(_PENDING, None)
    app = db.info.pop(_APP, None)
    if ids and app is not None:
        from idp.oidc.backchannel_worker import kick

        kick(app, ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(db: Session) -> None:
    db.info.pop(_PENDING, None)
    db.info.pop(_APP, None)


# Delivery (section 2.5): POST ``logout_token=...`` form-encoded; 200 (or the 204 some
# frameworks substitute, 2.8) is success; anything else is retried after BACKOFF.
BACKOFF = (30, 120, 600, 3600, 6 * 3600)  # seconds after the 1st, 2nd, ... failure
LEASE = 60  # seconds a claimed delivery is left alone by another worker
BATCH = 100


def next_delay(attempts: int) -> int:
    """Seconds until the next try after ``attempts`` failed ones (1 -> 30 s, 2 -> 2 min,
    3 -> 10 min, 4 -> 1 h, then every 6 h)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _post(uri: str, token: str, timeout: int) -> str:
    """One POST; "" on success, else a short reason (never the token). Redirects are
    not followed: a 3xx is a failure like any other status."""
    try:
        with requests.post(
            uri,
            data={"logout_token": token},
            headers={"Accept": "application/json, text/plain, */*"},
            # SECURITY.md X-03: a short connect timeout; ``timeout`` for each read.
            timeout=(min(3, timeout), timeout),
            allow_redirects=False,
            stream=True,  # the body is never read: the status says it all (2.8)
        ) as resp:
            return "" if resp.status_code in (200, 204) else f"status_{resp.status_code}"
    except requests.Timeout:
        return "timeout"
    except requests.RequestException:
        return "unreachable"


def _claim(db: Session, row_id: int, due_at: int, t: int, timeout: int) -> bool:
    """Take one due delivery for this worker (an update that only one of two
    concurrent workers wins), so the job and the request-path worker never both send."""
    won = db.execute(
        update(LogoutDelivery)
        .where(
            LogoutDelivery.id == row_id,
            LogoutDelivery.due_at == due_at,
            LogoutDelivery.delivered_at.is_(None),
            LogoutDelivery.gave_up_at.is_(None),
        )
        .values(due_at=t + LEASE + 2 * timeout)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.commit()
    return won == 1


def _fresh_token(db: Session, settings: Settings, row: LogoutDelivery, client: Client, t: int):
    """The queued token while it is young; a newly signed one for a retry (the token
    lives TOKEN_TTL seconds, a retry comes minutes later)."""
    if row.attempts == 0 and t - row.created_at < TOKEN_TTL // 2:
        return row.token
    ring = current_app.extensions["idp_keys"].get(db)
    return build_logout_token(
        ring,
        issuer=settings.issuer,
        client_id=client.client_id,
        alg=client.id_token_alg,
        sub=row.sub,
        sid=row.sid,
        t=t,
    )


def deliver(db: Session, settings: Settings, row: LogoutDelivery, t: int) -> str:
    """Try one delivery now; returns "delivered", "retry" or "gave_up", audited and
    logged (client, sid, outcome; never the token), committed. Sent only to the URI the
    client has registered at this moment (none, or the client disabled: given up)."""
    client = db.scalar(select(Client).where(Client.client_id == row.client_id))
    uri = client.backchannel_logout_uri if client is not None and client.is_active else None
    if uri:
        row.uri = uri
        error = _post(
            uri, _fresh_token(db, settings, row, client, t), settings.backchannel_logout_timeout
        )
    else:
        error = "not_registered"
    row.attempts += 1
    user_id = db.scalar(select(User.id).where(User.sub == row.sub))
    details = {
        "client_id": row.client_id,
        "sid": row.sid,
        "reason": row.reason,
        "attempts": row.attempts,
    }
    if not error:
        row.delivered_at, row.last_error, outcome = t, "", "delivered"
        record(db, AuditTag.BACKCHANNEL_LOGOUT_DELIVERED, actor=None, subject=user_id, **details)
        log.info(
            "back-channel logout delivered: client=%s sid=%s attempt=%d",
            row.client_id,
            row.sid,
            row.attempts,
        )
    elif not uri or row.attempts >= settings.backchannel_logout_attempts:
        row.gave_up_at, row.last_error, outcome = t, error[:200], "gave_up"
        record(
            db,
            AuditTag.BACKCHANNEL_LOGOUT_GAVE_UP,
            actor=None,
            subject=user_id,
            error=error,
            **details,
        )
        log.warning(
            "back-channel logout given up: client=%s sid=%s attempts=%d error=%s",
            row.client_id,
            row.sid,
            row.attempts,
            error,
        )
    else:
        row.last_error, outcome = error[:200], "retry"
        row.due_at = t + next_delay(row.attempts)
        log.info(
            "back-channel logout failed, retry in %ds: client=%s sid=%s attempt=%d error=%s",
            next_delay(row.attempts),
            row.client_id,
            row.sid,
            row.attempts,
            error,
        )
    db.commit()
    return outcome


def deliver_due(
    db: Session, settings: Settings, t: int, *, ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Deliver every logout token due at ``t`` (or only those of ``ids`` that are
    due): what ``idp jobs run`` and the request-path worker call. Returns the count of
    each outcome. Runs inside an app context (the signing keys)."""
    counts = {"delivered": 0, "retry": 0, "gave_up": 0}
    query = (
        select(LogoutDelivery.id, LogoutDelivery.due_at)
        .where(
            LogoutDelivery.delivered_at.is_(None),
            LogoutDelivery.gave_up_at.is_(None),
            LogoutDelivery.due_at <= t,
        )
        .order_by(LogoutDelivery.due_at, LogoutDelivery.id)
        .limit(BATCH)
    )
    if ids is not None:
        query = query.where(LogoutDelivery.id.in_(list(ids)))
    while True:
        # Each tried row leaves the query (done, or due later), so this ends.
        batch = db.execute(query).all()
        for row_id, due_at in batch:
            if not _claim(db, row_id, due_at, t, settings.backchannel_logout_timeout):
                continue
            row = db.get(LogoutDelivery, row_id)
            counts[deliver(db, settings, row, t)] += 1
        if len(batch) < BATCH:
            return counts
