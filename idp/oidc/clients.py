"""Authlib's ClientMixin over our Client rows, plus client registration."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app, has_app_context
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import Client, ClientScope
from idp.oidc.cache import TTLCache
from idp.oidc.scopes import OIDC_SCOPES
from idp.oidc.syntax import is_uri_text

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post")


class ClientError(ValueError):
    """Invalid client registration data; the message is safe to show."""


class OAuthClient(ClientMixin):
    """Protocol view of a registered client: exact redirect-URI matching, hashed
    secret compared in constant time (RECIPES.md 9: a digest, not a password KDF)."""

    def __init__(self, row: Client | SimpleNamespace) -> None:
        self.row = row
        self.client_id = row.client_id
        self.client_metadata = {"post_logout_redirect_uris": list(row.post_logout_redirect_uris)}

    @property
    def is_public(self) -> bool:
        return self.row.is_public

    @property
    def name(self) -> str:
        return self.row.name

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only unambiguous when exactly one URI is registered (SECURITY.md P-05).
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.row.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 2.1, OIDC Core 3.1.2.1): no normalisation.
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row.secret_hash is None:
            return False
        digest = hashlib.sha256(client_secret.encode()).hexdigest()
        return hmac.compare_digest(digest, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.is_public:
            return method == "none" and endpoint == "token"
        return method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


def load_client(db: Session, client_id: str | None) -> OAuthClient | None:
    if not client_id or len(client_id) > 64:
        return None
    row = db.scalar(select(Client).where(Client.client_id == client_id, Client.is_active))
    return OAuthClient(row) if row else None


ACTIVE_CLIENT = select(*Client.__table__.c).where(
    Client.client_id == bindparam("client_id"), Client.is_active
)


def client_record(db: Session, client_id: str) -> SimpleNamespace | None:
    """An active client's columns as a plain read-only record (no ORM identity, so
    it can be shared between requests and threads)."""
    row = db.execute(ACTIVE_CLIENT, {"client_id": client_id}).first()
    if row is None:
        return None
    return SimpleNamespace(**row._mapping, is_public=row.secret_hash is None)


def cached_client(cache: TTLCache, db: Session, client_id: str | None) -> OAuthClient | None:
    """The protocol endpoints' client lookup, cached per process for at most a second
    (``idp.oidc.cache``: a change made elsewhere is honoured within that second, one
    made in this process at once). Same answers as :func:`load_client`."""
    if not client_id or len(client_id) > 64:
        return None

    def load() -> Any:
        record = client_record(db, client_id)
        return OAuthClient(record) if record is not None else None

    return cache.get(client_id, load)


def declared_scopes(db: Session, client_id: str) -> dict[str, str]:
    """The scopes an operator declared for the client (``client_scopes``: what
    organisations grant) with the sign-in level each demands, cached per app like the
    client itself (``idp.oidc.cache``): every refresh and sign-in asks. Read-only."""

    def load() -> dict[str, str]:
        query = select(ClientScope.name, ClientScope.min_acr).where(
            ClientScope.client_id == client_id
        )
        return {name: acr for name, acr in db.execute(query)}

    if not has_app_context():  # a script without an app: nothing to share
        return load()
    cache = current_app.extensions.get("idp_declared_scopes")
    if cache is None:
        cache = current_app.extensions.setdefault("idp_declared_scopes", TTLCache())
    return cache.get(client_id, load)


def _check_uri(uri: str, what: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.fragment:
        raise ClientError(f"{what} must be an absolute http(s) URL without fragment: {uri!r}")
    if not is_uri_text(uri):
        # RFC 3986 2; /authorize refuses any other redirect_uri before looking it up.
        raise ClientError(
            f"{what} contains whitespace, control or other characters not allowed in a URI: {uri!r}"
        )
    return uri


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_backchannel_logout_uri(uri: str, *, production: bool) -> str:
    """A client's ``backchannel_logout_uri`` (Back-Channel Logout 1.0 section 2.2): an
    absolute https URI (http only on localhost outside production: the demo RPs), a
    port, path and query allowed, never a fragment. Raises :class:`ClientError`."""
    parts = urlsplit(uri)
    local_http = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS and not production
    if (
        not is_uri_text(uri)
        or not parts.hostname
        or parts.fragment
        or "#" in uri
        or (parts.scheme != "https" and not local_http)
    ):
        raise ClientError(
            "back-channel logout URI must be an absolute https URI without fragment "
            f"(http only on localhost in development): {uri!r}"
        )
    return uri


@dataclass(frozen=True)
class NewClient:
    row: Client
    secret: str | None  # shown once


def register_client(
    db: Session,
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] = (),  # type: ignore[assignment]
    public: bool = False,
    scopes: list[str] = (),  # type: ignore[assignment]
    grant_types: list[str] = (),  # type: ignore[assignment]
    require_pkce: bool = True,
    skip_consent: bool = False,
    id_token_alg: str = "RS256",  # noqa: S107
    client_id: str | None = None,
) -> NewClient:
    """Register a relying party; raises :class:`ClientError` on bad input."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ClientError("name must be 1-200 characters")
    grant_types = list(grant_types) or ["authorization_code", "refresh_token"]
    for g in grant_types:
        if g not in GRANT_TYPES:
            raise ClientError(f"unknown grant type {g!r}")
    if public and "client_credentials" in grant_types:
        raise ClientError("a public client cannot use client_credentials")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ClientError("at least one --redirect-uri is needed for the authorization code flow")
    if public and not require_pkce:
        raise ClientError("public clients always require PKCE")
    if id_token_alg not in {"RS256", "ES256"}:
        raise ClientError("id_token_alg must be RS256 or ES256")
    scopes = list(scopes) or list(OIDC_SCOPES)
    for s in scopes:
        if not s or any(c in s for c in ' "\\') or len(s) > 64:
            raise ClientError(f"invalid scope {s!r}")
    if client_id is None:
        client_id = secrets.token_urlsafe(18)
    elif not client_id or len(client_id) > 64 or not client_id.isascii():
        raise ClientError("client_id must be 1-64 ASCII characters")
    if db.scalar(select(Client).where(Client.client_id == client_id)) is not None:
        raise ClientError(f"client_id {client_id!r} already exists")
    secret = None if public else secrets.token_urlsafe(32)
    row = Client(
        client_id=client_id,
        secret_hash=hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        name=name,
        redirect_uris=[_check_uri(u, "redirect URI") for u in redirect_uris],
        post_logout_redirect_uris=[
            _check_uri(u, "post-logout redirect URI") for u in post_logout_redirect_uris
        ],
        scopes=scopes,
        grant_types=grant_types,
        require_pkce=True if public else require_pkce,
        skip_consent=skip_consent,
        id_token_alg=id_token_alg,
        created_at=now(),
    )
    db.add(row)
    db.flush()
    return NewClient(row=row, secret=secret)


def client_json(row: Client, secret: str | None = None) -> dict:
    data = {
        "client_id": row.client_id,
        "name": row.name,
        "public": row.is_public,
        "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "scopes": row.scopes,
        "grant_types": row.grant_types,
        "require_pkce": row.require_pkce,
        "skip_consent": row.skip_consent,
        "id_token_signed_response_alg": row.id_token_alg,
        "token_endpoint_auth_method": "none" if row.is_public else "client_secret_basic",
        "min_acr": row.min_acr,
        "scope_acr": row.scope_acr,
        "allow_email_otp": row.allow_email_otp,
        "required_membership": row.required_membership,
        "release_id_document": row.release_id_document,
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "backchannel_logout_session_required": row.backchannel_logout_session_required,
    }
    if secret:
        data["client_secret"] = secret
    return data
