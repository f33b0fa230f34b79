"""The Authlib AuthorizationServer: grants, token generation and storage, and the
introspection (RFC 7662), revocation (RFC 7009) and end-session endpoints."""

from __future__ import annotations

import functools
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, current_app
from flask import session as web_session
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, insert, select, union_all, update

from idp.db import now, session
from idp.enrollment import membership
from idp.enrollment.verdicts import state_of
from idp.models import AuthorizationCode, Grant, Token, User
from idp.oidc.cache import TTLCache
from idp.oidc.claims import assurance_claims, org_claims, settings
from idp.oidc.clients import CONFIDENTIAL_METHODS, cached_client
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    IdpOpenIDCode,
    RefreshTokenGrant,
    S256CodeChallenge,
    revoke_grant,
)
from idp.oidc.keys import ALGORITHMS
from idp.oidc.reads import first_row, read_connection
from idp.oidc.scopes import split_scope, user_claims
from idp.oidc.stored import TOKEN_USER_NAMES, StoredToken
from idp.oidc.tokens import new_token, token_digest


def query_client(client_id: str) -> Any:
    cache = current_app.extensions.get("idp_client_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("idp_client_cache", TTLCache())
    return cached_client(cache, session(), client_id)


def generate_token(
    grant_type: str,
    client: Any,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict:
    s = settings()
    token = {
        "token_type": "Bearer",
        "access_token": new_token(),
        "expires_in": expires_in or s.access_token_ttl,
        "scope": scope or "",
    }
    # Refresh tokens only for offline_access (OIDC Core 11) and clients allowed them.
    if (
        include_refresh_token
        and user is not None
        and "offline_access" in split_scope(scope)
        and client.check_grant_type("refresh_token")
    ):
        token["refresh_token"] = new_token()
    return token


TOKEN_COLUMNS = (
    "token_hash",
    "kind",
    "grant_id",
    "client_id",
    "user_id",
    "scope",
    "org_id",
    "issued_at",
    "expires_at",
)


def save_token(token: dict, request: Any) -> None:
    """Store the tokens of one response in their grant (family), in the request's
    transaction: Core statements, no unit of work. A new grant, the code's link to it
    and the tokens are one statement on PostgreSQL (data-modifying CTEs), one per step
    on SQLite."""
    db = session()
    s = settings()
    t = now()
    client_id = request.client.get_client_id()
    user_id = request.user.id if request.user is not None else None
    scope = token.get("scope", "")
    lifetimes = {"access": int(token["expires_in"]), "refresh": s.refresh_idle_ttl}
    issued = [
        (token_digest(token[f"{kind}_token"]), kind, t + lifetime)
        for kind, lifetime in lifetimes.items()
        if token.get(f"{kind}_token") is not None
    ]

    def rows(grant_id: Any, org_id: int | None) -> list[dict]:
        common = {"grant_id": grant_id, "client_id": client_id, "user_id": user_id}
        common.update(scope=scope, org_id=org_id, issued_at=t)
        return [{"token_hash": h, "kind": k, "expires_at": e, **common} for h, k, e in issued]

    if request.refresh_token is not None:
        stored = request.refresh_token.row
        db.execute(NEW_TOKENS, rows(stored.grant_id, stored.org_id))
        return
    code = request.authorization_code.row if request.authorization_code else None
    org_id = code.org_id if code else None
    grant = {
        "client_id": client_id,
        "user_id": user_id,
        "scope": scope,
        "auth_time": code.auth_time if code else None,
        "acr": code.acr if code else None,
        "amr": code.amr if code else [],
        "sid": code.sid if code else None,
        "org_id": org_id,
        "claims": code.claims if code else None,
        "created_at": t,
    }
    params = {f"grant_{name}": value for name, value in grant.items()}
    if db.get_bind().dialect.name == "postgresql":
        tokens = rows(None, org_id)
        for i, row in enumerate(tokens):
            params.update({f"token{i}_{name}": row[name] for name in TOKEN_COLUMNS})
        statement = _grant_and_tokens(code is not None, len(tokens))
        db.execute(statement, {**params, **({"code_id": code.id} if code else {})})
        return
    grant_id = db.execute(NEW_GRANT_ID, params).scalar_one()
    if code is not None:
        db.execute(LINK_CODE, {"code_id": code.id, "of_grant": grant_id})
    db.execute(NEW_TOKENS, rows(grant_id, org_id))


# The statements of a new grant, built once with bind parameters (issue 12: building
# them per request was a tenth of the token endpoint's CPU). Parameter names differ
# from column names, which an INSERT's own parameters take.
GRANT_COLUMNS = (
    "client_id",
    "user_id",
    "scope",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "org_id",
    "claims",
    "created_at",
)
# On tables and their columns, not the mapped classes: the ORM would read a parameter
# dict given to them as rows of a bulk insert, and copies a statement that mentions
# it on each execution (its cache key computed anew).
NEW_GRANT = insert(Grant.__table__).values(
    {name: bindparam(f"grant_{name}", type_=Grant.__table__.c[name].type) for name in GRANT_COLUMNS}
)
NEW_GRANT_ID = NEW_GRANT.returning(Grant.__table__.c.id)
# Executed with one parameter dict per token: psycopg's executemany costs less CPU
# than one INSERT of several VALUES rows (measured with bench/probe.py).
NEW_TOKENS = insert(Token.__table__)
# The code remembers its grant, so a replay of it can end the family (P-18).
LINK_CODE = (
    update(AuthorizationCode.__table__)
    .where(AuthorizationCode.__table__.c.id == bindparam("code_id"))
    .values(grant_id=bindparam("of_grant"))
)


@functools.cache
def _grant_and_tokens(with_code: bool, token_count: int) -> Any:
    """``WITH g AS (INSERT grant RETURNING id) [, UPDATE code] INSERT tokens SELECT ...
    FROM g``: one round trip for what is otherwise three statements. Parameters: those
    of ``NEW_GRANT``, ``token{i}_{column}`` for each token and ``code_id``."""
    grant = NEW_GRANT.returning(Grant.__table__.c.id).cte("new_grant")
    columns = Token.__table__.c
    selects = [
        select(
            *(
                grant.c.id
                if name == "grant_id"
                else bindparam(f"token{i}_{name}", type_=columns[name].type).label(name)
                for name in TOKEN_COLUMNS
            )
        )
        for i in range(token_count)
    ]
    stmt = insert(Token.__table__).from_select(list(TOKEN_COLUMNS), union_all(*selects))
    if with_code:
        link = (
            update(AuthorizationCode.__table__)
            .where(AuthorizationCode.__table__.c.id == bindparam("code_id"))
            .values(grant_id=select(grant.c.id).scalar_subquery())
        )
        stmt = stmt.add_cte(link.cte())
    return stmt


# The hot lookups, built once (issue 12; see idp.oidc.grants).
TOKEN_BY_DIGEST = select(Token).where(Token.token_hash == bindparam("digest"))


def find_token(value: str, hint: str | None = None) -> StoredToken | None:
    if not value or len(value) > 512:
        return None
    row = session().scalar(TOKEN_BY_DIGEST, {"digest": token_digest(value)})
    return StoredToken(row) if row is not None else None


class HintIgnored:
    """RFC 7009 2.1 / RFC 7662 2.1: the server MAY ignore ``token_type_hint``. A token
    is found by its digest whatever its kind, so an unknown hint is ignored as well
    (Authlib refused it as ``unsupported_token_type`` with status 401, which RFC 6749
    5.2 keeps for client authentication; found by the OpenAPI fuzzing, issue 13)."""

    def check_params(self, request: Any, client: Any) -> None:
        if "token" not in request.form:
            raise InvalidRequestError()


# What introspection reads, as one row: the token's columns under their own names
# (StoredToken reads them), whether its grant is there and ended, and the person's
# ``sub``, ``username`` and membership state (their attribute names too, so the row is
# the ``user`` of ``state_of``). Core, not the ORM, as for userinfo (issue 12).
INTROSPECTION_ROW = (
    select(
        Token.client_id,
        Token.scope,
        Token.kind,
        Token.issued_at,
        Token.expires_at,
        Token.revoked_at,
        Token.grant_id,
        Token.user_id,
        Grant.id.label("grant_found"),
        Grant.revoked_at.label("grant_revoked_at"),
        User.sub,
        User.username,
        User.member_type,
        User.membership_status,
        User.membership_expires_at,
    )
    .select_from(Token)
    .outerjoin(Grant, Grant.id == Token.grant_id)
    .outerjoin(User, User.id == Token.user_id)
    .where(Token.token_hash == bindparam("digest"))
)


def find_token_with_family(value: str, connection: Any = None) -> StoredToken | None:
    """The token with its grant's state and its person, in one row (introspection).
    By default on the request's session (in autocommit since the view began): the
    client was looked up through it, so a connection of its own would be a second one
    at once. The fast lane, whose client came from the cache, passes its own."""
    if not value or len(value) > 512:
        return None
    if connection is None:
        connection = session().connection()
    row = first_row(connection, INTROSPECTION_ROW, {"digest": token_digest(value)})
    if row is None:
        return None
    return StoredToken(row, user=row if row.sub is not None else None)


def _family_and_person_allow(row: Any) -> bool:
    """An ``INTROSPECTION_ROW``'s grant is there and not ended (RFC 7009 2.1), and its
    person is there and their membership still lets clients hold tokens (R-06, R-07)."""
    if row.grant_id is not None and (row.grant_found is None or row.grant_revoked_at is not None):
        return False
    if row.user_id is None:
        return True  # client_credentials: no person
    return row.sub is not None and membership_allows_tokens(row, now())


class Introspection(HintIgnored, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token_with_family(token_string)

    def check_permission(self, token: StoredToken, client: Any, request: Any) -> bool:
        # A client may introspect the tokens issued to it; others read as inactive.
        return token.check_client(client)

    def create_introspection_payload(self, token: StoredToken | None) -> dict:
        return introspection_answer(token)


def introspection_answer(token: StoredToken | None) -> dict:
    """RFC 7662 2.2 for a token the asking client may introspect (None: unknown, or
    another client's): inactive unless the token, its grant and its person all still
    allow it. The endpoint and its fast lane (idp.oidc.lanes) share it."""
    if token is None or token.is_expired() or token.is_revoked():
        return {"active": False}
    row = token.row
    if not _family_and_person_allow(row):
        return {"active": False}
    data = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client_id,
        "token_type": "Bearer" if row.kind == "access" else "refresh_token",
        "exp": row.expires_at,
        "iat": row.issued_at,
        "iss": settings().issuer,
        "aud": row.client_id,
    }
    user = token.get_user()
    if user is not None:
        data.update(sub=user.sub, username=user.username)
    return data


class Revocation(HintIgnored, RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        if token.row.kind == "refresh":
            revoke_grant(token.row.grant_id)  # RFC 7009 2.1: drop the grant's tokens too
            return
        session().execute(update(Token).where(Token.id == token.row.id).values(revoked_at=now()))
        session().commit()


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return current_app.extensions["idp_keys"].get(session()).public_set

    def get_algorithms(self) -> list[str]:
        return list(ALGORITHMS)

    def end_session(self, end_session_request: Any) -> None:
        web_session.destroy()


class IdpIssuerParameter(IssuerParameter):
    def get_issuer(self) -> str:
        return settings().issuer


def create_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer(query_client=query_client, save_token=save_token)
    server.init_app(app)
    server.register_token_generator("default", generate_token)
    server.register_grant(
        AuthorizationCodeGrant, [S256CodeChallenge(required=True), IdpOpenIDCode()]
    )
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    server.register_endpoint(EndSession)
    server.register_extension(IdpIssuerParameter())
    return server


# What userinfo reads, as one row of plain columns (issue 12): a Core query skips the
# ORM's identity map and object loading, which were a quarter of the endpoint's CPU. The
# person's columns keep their attribute names, so the row serves as ``user`` for the
# claim builders (``user_claims``, ``state_of``); the token's and grant's are prefixed.
USERINFO_ROW = (
    select(
        *(getattr(User, name) for name in TOKEN_USER_NAMES),
        Token.scope.label("token_scope"),
        Token.org_id.label("token_org_id"),
        Token.expires_at.label("token_expires_at"),
        Token.revoked_at.label("token_revoked_at"),
        Grant.id.label("grant_id"),
        Grant.revoked_at.label("grant_revoked_at"),
        Grant.claims.label("grant_claims"),
    )
    .select_from(Token)
    .join(User, User.id == Token.user_id)
    .outerjoin(Grant, Grant.id == Token.grant_id)
    .where(Token.token_hash == bindparam("digest"), Token.kind == "access")
)


def userinfo_claims(row: Any) -> dict[str, Any]:
    """The UserInfo answer (OIDC Core 5.3.2) for a ``USERINFO_ROW`` whose token carries
    ``openid``: the scopes' claims, the organisation the token acts for, membership and
    verified claims. The view and the fast lane (idp.oidc.lanes) share it."""
    body: dict[str, Any] = user_claims(row, row.token_scope)
    if row.token_org_id is not None:
        body.update(org_claims(row.token_org_id))
    body.update(assurance_claims(session(), row, row.token_scope, row.grant_claims, "userinfo"))
    return body


def user_for_access_token(value: str) -> Any | None:
    """Resolve a bearer access token to one row of its person, token and grant
    (``USERINFO_ROW``); None when the token is unknown, expired, revoked, not an access
    token or has no user."""
    if not value or len(value) > 512:
        return None
    with read_connection() as connection:
        row = first_row(connection, USERINFO_ROW, {"digest": token_digest(value)})
    if row is None:
        return None
    t = now()
    if row.token_revoked_at is not None or row.token_expires_at <= t or not row.is_active:
        return None
    if row.grant_id is not None and row.grant_revoked_at is not None:
        # The family was ended (logout, revocation, a refresh replay) while a token of
        # it was being issued: end_grants skips rows another transaction holds, so the
        # grant, not the token, is the authority (RFC 7009 2.1, RFC 9700 4.14.2).
        return None
    if not membership_allows_tokens(row, t):
        return None  # expired, pending or rejected since the token was issued
    return row


def membership_allows_tokens(user: User | Any, t: int) -> bool:
    """Whether the person's membership still lets relying parties hold tokens for
    them (SECURITY.md R-05..R-07): userinfo, introspection and refresh ask this."""
    return membership.may_get_tokens(state_of(user), t)
