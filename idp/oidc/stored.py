"""Authlib's mixin views of our stored rows: a consumed authorization code and a token
(refresh, introspection, revocation)."""

from __future__ import annotations

from typing import Any

from idp.db import now, session
from idp.models import AuthorizationCode, Grant, Token, User

# The columns of a person that tokens, claims and their checks read. A person has 43
# columns and loading them all was a third of userinfo's CPU (psycopg describes and
# the ORM loads each one; issue 12). Userinfo, the code exchange and the refresh read
# these names as one Core row (server.USERINFO_ROW, grants.CODE_PERSON and FAMILY_ROW),
# where a name left out is an AttributeError that the claim tests show.
TOKEN_USER_NAMES = (
    "id",
    "sub",
    "username",
    "name",
    "given_name",
    "family_name",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "is_active",
    "member_type",
    "membership_status",
    "membership_expires_at",
    "password_changed_at",
    "must_change_password",
)


class StoredCode:
    """AuthorizationCodeMixin view of a consumed code row."""

    def __init__(self, row: AuthorizationCode | Any, person: Any = ...) -> None:
        self.row = row  # ORM row, RETURNING row or its columns
        self.person = person  # the person's row when read with it (``...``: not read)
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return self.row.auth_time

    def get_acr(self) -> str | None:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return self.row.amr


class StoredToken:
    """TokenMixin view of a token row (refresh, introspection, revocation)."""

    def __init__(
        self, row: Token | Any, grant: Grant | None = None, user: User | None | object = ...
    ) -> None:
        self.row = row
        self.grant = grant
        self._user = user  # ``...``: not read yet

    def check_client(self, client: Any) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return self.row.expires_at - self.row.issued_at

    def is_expired(self) -> bool:
        return self.row.expires_at <= now()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> User | None:
        if self._user is not ...:
            return self._user  # type: ignore[return-value]
        return session().get(User, self.row.user_id) if self.row.user_id else None

    def get_client(self) -> Any:
        from idp.oidc.clients import load_client

        return load_client(session(), self.row.client_id)
