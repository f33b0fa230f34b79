"""Identifiers, passwords and client redirect matching (pure helpers)."""

from __future__ import annotations

import pytest

from idp.account.identifiers import email_key, is_valid_email, is_valid_username, username_key
from idp.account.passwords import hash_password, password_problem, verify_password
from idp.models import Client
from idp.oidc.clients import OAuthClient


@pytest.mark.parametrize(
    "variant", ["Alice", " alice ", "ＡＬＩＣＥ", "ALICE", "ALİCE", "alİce", "ali\u0307ce"]
)
def test_username_variants_normalise_to_one_key_A05(variant):
    """SECURITY.md A-05: case, spaces, NFKC twins and the dotted capital I (U+0130,
    which plain case folding turns into i + U+0307) all reach the same account."""
    assert username_key(variant) == "alice"
    assert is_valid_username(variant)


def test_email_key_casefolds():
    assert email_key(" Alice@Example.ORG ") == "alice@example.org"


@pytest.mark.parametrize(
    "value,ok",
    [("alice", True), ("a", False), ("bad name", False), ("x" * 65, False), ("somchai.j", True)],
)
def test_username_rules(value, ok):
    assert is_valid_username(value) is ok


@pytest.mark.parametrize("value,ok", [("a@b.co", True), ("nope", False), ("a@b", False)])
def test_email_rules(value, ok):
    assert is_valid_email(value) is ok


def test_argon2id_at_owasp_parameters():
    h = hash_password("a long passphrase here")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(h, "a long passphrase here")
    assert not verify_password(h, "a long passphrase herE")
    assert not verify_password("not-a-hash", "x")


def test_long_passwords_verified_in_full_A07():
    password = "p" * 99 + "X" + "q" * 28
    h = hash_password(password)
    assert verify_password(h, password)
    assert not verify_password(h, "p" * 99 + "Y" + "q" * 28)


@pytest.mark.parametrize(
    "password,problem",
    [
        ("short", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("my-alice-password", "password_contains_identity"),
        ("all lowercase long passphrase", None),
    ],
)
def test_password_problems_A07(password, problem):
    result = password_problem(password, ("alice",))
    assert result == problem


def _client(**kw) -> OAuthClient:
    row = Client(
        client_id="c",
        name="c",
        redirect_uris=["https://rp.example/cb"],
        post_logout_redirect_uris=[],
        scopes=["openid"],
        grant_types=["authorization_code"],
        require_pkce=True,
        skip_consent=False,
        id_token_alg="RS256",
        secret_hash=None,
        created_at=0,
        **kw,
    )
    return OAuthClient(row)


@pytest.mark.parametrize(
    "uri,ok",
    [
        ("https://rp.example/cb", True),
        ("https://rp.example/cb/", False),
        ("https://RP.example/cb", False),
        ("https://rp.example/cb?x=1", False),
        ("http://rp.example/cb", False),
        ("https://rp.example/cb#f", False),
    ],
)
def test_redirect_uri_exact_match_P04(uri, ok):
    assert _client().check_redirect_uri(uri) is ok


def test_public_client_only_authenticates_with_none():
    c = _client()
    assert c.check_endpoint_auth_method("none", "token")
    assert not c.check_endpoint_auth_method("client_secret_basic", "token")
    assert not c.check_endpoint_auth_method("none", "introspection")
    assert not c.check_client_secret("anything")
