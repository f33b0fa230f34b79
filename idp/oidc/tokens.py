"""Opaque tokens (stored as SHA-256) and ID tokens (JWT, RS256 or ES256 with kid)."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt

from idp.oidc.keys import KeyRing
from idp.oidc.scopes import user_claims


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def build_id_token(
    ring: KeyRing,
    *,
    issuer: str,
    client_id: str,
    alg: str,
    ttl: int,
    user: Any,
    scope: str,
    auth_time: int,
    acr: str | None = None,
    amr: list[str] | None = None,
    nonce: str | None = None,
    sid: str | None = None,
    access_token: str | None = None,
    extra: dict | None = None,
) -> str:
    """Sign an ID token (OIDC Core 2). ``auth_time`` is always the stored time of the
    authentication, never "now" (SECURITY.md 6: Authlib's default is wrong for SSO)."""
    key = ring.signing_key(alg)
    t = int(time.time())
    claims: dict[str, Any] = user_claims(user, scope)
    claims.update(iss=issuer, aud=client_id, iat=t, exp=t + ttl, auth_time=int(auth_time))
    if nonce:
        claims["nonce"] = nonce
    if acr:
        claims["acr"] = acr
    if amr:
        claims["amr"] = list(amr)
    if sid:
        claims["sid"] = sid
    if extra:
        claims.update(extra)
    if access_token:
        claims["at_hash"] = create_half_hash(access_token, alg).decode()
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])
