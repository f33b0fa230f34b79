"""Authlib grant subclasses with the gaps SECURITY.md section 6 lists filled in:

* PKCE: S256 only, method explicit, required for public clients and per client flag.
* Codes: consumed with one conditional UPDATE in the token transaction; a replay is
  refused with ``invalid_grant`` and revokes every token issued from the code.
* Refresh tokens: rotated; a replay revokes the whole family; entitlements rechecked.
* ID tokens: the stored ``auth_time``/``acr``/``amr``, never "now".
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from sqlalchemy import bindparam, insert, select, update

from idp.db import now, session
from idp.models import AuthorizationCode, Grant, Token, User
from idp.oidc.claims import issue_id_token, settings
from idp.oidc.refresh import refreshable_scope
from idp.oidc.revocation import end_grants
from idp.oidc.scopes import OIDC_SCOPES, split_scope
from idp.oidc.stored import TOKEN_USER_NAMES, StoredCode, StoredToken
from idp.oidc.syntax import is_error_text
from idp.oidc.tokens import token_digest
from idp.ops import metrics

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

# The token endpoint's statements, built once (issue 12): building one and computing
# its cache key costs ~0.1 ms a request, a prebuilt one's key is memoised.
# The two consuming UPDATEs name table columns, not mapped attributes: a statement
# that mentions the ORM is copied by the session on each execution, and its cache key
# computed anew (~0.1 ms).
_codes, _tokens = AuthorizationCode.__table__.c, Token.__table__.c
CONSUME_CODE = (
    update(AuthorizationCode.__table__)
    .where(
        _codes.code_hash == bindparam("digest"),
        _codes.client_id == bindparam("for_client"),
        _codes.used_at.is_(None),
        _codes.expires_at >= bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(*_codes)
)
NEW_CODE = insert(AuthorizationCode.__table__)
SEEN_CODE = select(
    AuthorizationCode.used_at, AuthorizationCode.client_id, AuthorizationCode.grant_id
).where(AuthorizationCode.code_hash == bindparam("digest"))
CONSUME_REFRESH = (
    update(Token.__table__)
    .where(
        _tokens.token_hash == bindparam("digest"),
        _tokens.kind == "refresh",
        _tokens.used_at.is_(None),
        _tokens.revoked_at.is_(None),
        _tokens.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(*_tokens)
)
SEEN_REFRESH = select(Token.used_at, Token.grant_id).where(
    Token.token_hash == bindparam("digest"), Token.kind == "refresh"
)

# The refresh token's grant and person, as one Core row (no ORM entities: issue 12)
# shaped like a person, so that the claim builders read it as they read userinfo's; the
# grant's columns come as ``grant_*``. On PostgreSQL the consuming UPDATE rides along
# in a data-modifying CTE and its columns come as ``token_*``: one round trip.
_grants, _users = Grant.__table__.c, User.__table__.c
_PERSON = tuple(_users[name] for name in TOKEN_USER_NAMES)
_GRANT = tuple(c.label(f"grant_{c.name}") for c in _grants)
FAMILY_ROW = (
    select(*_PERSON, *_GRANT)
    .select_from(Grant.__table__)
    .outerjoin(User.__table__, _users.id == bindparam("user_id"))
    .where(_grants.id == bindparam("grant_id"))
)
_used = CONSUME_REFRESH.cte("used")
CONSUME_WITH_FAMILY = (
    select(*(c.label(f"token_{c.name}") for c in _used.c), *_PERSON, *_GRANT)
    .select_from(_used)
    .outerjoin(Grant.__table__, _grants.id == _used.c.grant_id)
    .outerjoin(User.__table__, _users.id == _used.c.user_id)
)


# The person a code was issued to, with the columns tokens and claims read: a Core row
# like FAMILY_ROW's. On PostgreSQL it comes with the consuming UPDATE (``code_*``).
CODE_PERSON = select(*_PERSON).where(_users.id == bindparam("user_id"))
_consumed_code = CONSUME_CODE.cte("consumed")
CONSUME_WITH_PERSON = (
    select(*(c.label(f"code_{c.name}") for c in _consumed_code.c), *_PERSON)
    .select_from(_consumed_code)
    .outerjoin(User.__table__, _users.id == _consumed_code.c.user_id)
)
_CODE_PART = tuple((f"code_{c.name}", c.name) for c in _codes)
_TOKEN_PART = tuple((f"token_{c.name}", c.name) for c in _tokens)
_GRANT_PART = tuple((f"grant_{c.name}", c.name) for c in _grants)


def _part(row: Any, labels: tuple[tuple[str, str], ...]) -> SimpleNamespace:
    """The columns of ``row`` labelled as in ``labels``, under their own names."""
    columns = row._mapping
    return SimpleNamespace(**{name: columns[label] for label, name in labels})


def check_scope(client: Any, scope: str | None, *, openid_required: bool) -> None:
    """Unknown scopes or ones the client may not ask for -> ``invalid_scope`` (P-07)."""
    requested = split_scope(scope)
    allowed = set(client.row.scopes)
    unknown = [s for s in requested if s not in allowed]
    if unknown:
        # Echoed only when it is valid error text: Authlib raises ValueError otherwise.
        shown = " ".join(unknown)
        raise InvalidScopeError(
            f"Scope not allowed for this client: {shown}"
            if is_error_text(shown)
            else "Scope not allowed for this client."
        )
    if openid_required and "openid" not in requested:
        raise InvalidScopeError("The 'openid' scope is required.")


def revoke_grant(grant_id: int | None) -> None:
    """Revoke a grant and every token in it, and commit at once: the caller is about
    to answer with an error, and the revocation must survive that."""
    if grant_id is None:
        return
    db = session()
    end_grants(db, Grant.id == grant_id)
    db.commit()


class S256CodeChallenge(CodeChallenge):
    """RFC 7636 with ``plain`` refused and the method explicit (ASVS 10.4.6)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        client = grant.request.client
        if not challenge and (client.is_public or client.row.require_pkce):
            raise InvalidRequestError("PKCE is required: send code_challenge with method S256.")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class IdpOpenIDCode(OpenIDCode):
    """Adds the ID token to code responses, signed with the client's algorithm."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Nonce replay is detected by the relying party (OIDC Core 3.1.3.7 step 11);
        # the provider only binds it into the ID token, so no server-side registry.
        return False

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        if "openid" not in split_scope(token.get("scope")):
            return token
        code: StoredCode = grant.request.authorization_code
        token["id_token"] = issue_id_token(
            grant.request.client,
            grant.request.user,
            token["scope"],
            auth_time=code.row.auth_time,
            acr=code.row.acr,
            amr=code.row.amr,
            nonce=code.row.nonce,
            sid=code.row.sid,
            access_token=token.get("access_token"),
            org_id=code.row.org_id,
            requested=code.row.claims,
        )
        return token


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        check_scope(self.request.client, self.request.payload.scope, openid_required=True)

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx = request.idp_auth  # set by the authorization view: who, when, how
        data = request.payload.data
        t = now()
        row = {
            "code_hash": token_digest(code),
            "client_id": request.client.get_client_id(),
            "user_id": request.user.id,
            "redirect_uri": request.payload.redirect_uri
            or request.client.get_default_redirect_uri(),
            "scope": ctx.get("scope") or request.scope,
            "org_id": ctx.get("org_id"),
            "claims": ctx.get("claims"),
            "nonce": data.get("nonce"),
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "auth_time": ctx["auth_time"],
            "acr": ctx.get("acr"),
            "amr": ctx.get("amr", []),
            "sid": ctx.get("sid"),
            "created_at": t,
            "expires_at": t + settings().code_ttl,
        }
        session().execute(NEW_CODE, row)  # Core: no unit of work for one row (issue 12)
        session().commit()

    def query_authorization_code(self, code: str, client: Any) -> StoredCode | None:
        """Consume the code with one conditional UPDATE (SECURITY.md 6, P-17/P-18).

        Not committed here: it commits with the tokens, so a failure later in the
        request leaves the code unused and no token exists without a consumed code.
        """
        db = session()
        digest = token_digest(code)
        params = {"digest": digest, "for_client": client.get_client_id(), "now": now()}
        # RETURNING: the consumed row comes back with the UPDATE (one round trip), and
        # on PostgreSQL the person with it.
        if db.get_bind().dialect.name == "postgresql":
            found = db.execute(CONSUME_WITH_PERSON, params).first()
            if found is not None:
                person = found if found.id is not None else None
                return StoredCode(_part(found, _CODE_PART), person=person)
        else:
            consumed = db.execute(CONSUME_CODE, params).first()
            if consumed is not None:
                return StoredCode(consumed)
        row = db.execute(SEEN_CODE, {"digest": digest}).first()
        if row is not None and row.used_at is not None and row.client_id == client.get_client_id():
            # RFC 6749 4.1.2: a reused code is refused, and tokens issued from it revoked.
            revoke_grant(row.grant_id)
        return None

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Kept as a used tombstone so a replay can be detected; `idp jobs` purges."""

    def authenticate_user(self, authorization_code: StoredCode) -> Any:
        """The code's person (a Core row shaped like one), if still active."""
        user = authorization_code.person
        if user is ...:
            user = (
                session().execute(CODE_PERSON, {"user_id": authorization_code.row.user_id}).first()
            )
        return user if user is not None and user.is_active else None


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        """Consume a live refresh token with one conditional UPDATE ... RETURNING; when
        nothing was consumed, one look tells a replay (the family ends) from an unknown,
        revoked or expired token. A refusal later in the request rolls the use back."""
        db = session()
        digest = token_digest(refresh_token)
        t = now()
        if db.get_bind().dialect.name == "postgresql":
            family = db.execute(CONSUME_WITH_FAMILY, {"digest": digest, "now": t}).first()
            consumed = _part(family, _TOKEN_PART) if family is not None else None
        else:  # SQLite has no UPDATE inside WITH: two statements
            consumed = db.execute(CONSUME_REFRESH, {"digest": digest, "now": t}).first()
            if consumed is not None:
                params = {"user_id": consumed.user_id, "grant_id": consumed.grant_id}
                family = db.execute(FAMILY_ROW, params).first()
        if consumed is None:
            seen = db.execute(SEEN_REFRESH, {"digest": digest}).first()
            if seen is not None and seen.used_at is not None:
                # Rotation replay (RFC 9700 4.14.2), or the loser of a race for the same
                # token: revoke the whole family.
                metrics.refresh_reuse.inc()
                revoke_grant(seen.grant_id)
            return None
        grant = _part(family, _GRANT_PART) if family is not None and family.grant_id else None
        user = family if family is not None and family.id is not None else None
        s = settings()
        if (
            grant is None
            or grant.revoked_at is not None
            or grant.created_at + s.refresh_absolute_ttl <= t
        ):
            return None
        return StoredToken(consumed, grant, user)

    def authenticate_user(self, refresh_token: StoredToken) -> User:
        """The grant's user, if the grant may still be refreshed; the scope it may carry
        is decided here too (``refresh.refreshable_scope``), else ``invalid_grant``."""
        user = refresh_token.get_user()
        scope = self.request.payload.scope or refresh_token.get_scope()
        self.request.idp_scope = refreshable_scope(
            session(), self.request.client, user, refresh_token.grant, scope
        )
        return user

    def create_token_response(self) -> tuple:
        status, token, headers = super().create_token_response()
        grant = self.request.refresh_token.grant
        if "openid" in split_scope(token.get("scope")):
            token["id_token"] = issue_id_token(
                self.request.client,
                self.request.user,
                token["scope"],
                auth_time=grant.auth_time,
                acr=grant.acr,
                amr=grant.amr,
                sid=grant.sid,
                access_token=token.get("access_token"),
                org_id=grant.org_id,
                requested=grant.claims,
            )
        return status, token, headers

    def issue_token(self, user: User, refresh_token: StoredToken) -> dict:
        scope = self.request.idp_scope
        return self.generate_token(user=user, scope=scope, include_refresh_token=True)

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        """Already marked used by the conditional UPDATE in authenticate_refresh_token."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self) -> None:
        requested = split_scope(self.request.payload.scope)
        if any(s in OIDC_SCOPES for s in requested):
            raise InvalidScopeError("OpenID scopes need a user: use the authorization code flow.")
        check_scope(self.request.client, self.request.payload.scope, openid_required=False)
