"""UserInfo (P-25, P-26, I-07) and RP-initiated logout (P-27, P-28)."""

from __future__ import annotations

import base64
import json

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests import jose_attacks
from tests.factories import (
    RP_LOGOUT,
    authorize_params,
    csrf_token,
    exchange,
    get_code,
    make_client,
    make_user,
    pkce_pair,
    query,
)


@pytest.fixture
def rp(db):
    make_user(db, phone_number="+66812345678")
    return make_client(db)


def _tokens(client, rp, scope="openid profile email"):
    code, verifier, _ = get_code(client, rp, scope=scope)
    return exchange(client, rp, code, verifier).get_json()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_userinfo_get_and_post_with_claims_by_scope_P25(client, rp):
    tokens = _tokens(client, rp, scope="openid email")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    got = client.get("/userinfo", headers=headers)
    posted = client.post("/userinfo", headers=headers)
    assert got.status_code == posted.status_code == 200
    assert got.headers["Cache-Control"] == "no-store"
    body = got.get_json()
    assert body == posted.get_json()
    assert set(body) == {"sub", "email", "email_verified"}  # no profile, no phone


def test_userinfo_phone_scope_releases_phone(client, rp):
    tokens = _tokens(client, rp, scope="openid phone")
    body = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert body.get_json()["phone_number"] == "+66812345678"


def test_userinfo_sub_matches_id_token(client, rp):
    tokens = _tokens(client, rp)
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    id_claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert info.get_json()["sub"] == id_claims["sub"]


def test_access_token_in_query_is_rejected_P25(client, rp):
    tokens = _tokens(client, rp)
    resp = client.get(f"/userinfo?access_token={tokens['access_token']}")
    assert resp.status_code == 400
    assert "invalid_request" in resp.headers["WWW-Authenticate"]


def _foreign_jwt() -> str:
    key = RSAKey.generate_key(2048, private=True)
    return jwt.encode({"alg": "RS256"}, {"sub": "x"}, key)


@pytest.mark.parametrize(
    "token,error",
    [
        (None, None),  # RFC 6750 3.1: no credentials, no error code
        ("", None),
        ("garbage", "invalid_token"),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "invalid_token"),
        ("HS256", "invalid_token"),
        ("hs256-our-public-key", "invalid_token"),
        ("foreign", "invalid_token"),
        ("big", "invalid_token"),
    ],
)
def test_userinfo_rejects_bad_tokens_P26_I07(client, rp, token, error):
    """SECURITY.md P-26, I-07: 401 with the Bearer challenge, no claims, whatever the
    token looks like (ours are opaque: no JWT is ever accepted as an access token).
    A real access token exists meanwhile, so a lookup that matched too much would show."""
    real = _tokens(client, rp)["id_token"]
    if token == "HS256":
        token = _b64({"alg": "HS256"}) + "." + _b64({"sub": "x"}) + ".c2ln"
    elif token == "hs256-our-public-key":
        jwks = client.get("/jwks.json").get_json()
        token = jose_attacks.forge("hs256", jose_attacks.claims_of(real), jwks)
    elif token == "foreign":
        token = _foreign_jwt()
    elif token == "big":
        token = "A" * 100_000
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    resp = client.get("/userinfo", headers=headers)
    assert resp.status_code == 401
    challenge = 'Bearer realm="idp"' + (f', error="{error}"' if error else "")
    assert resp.headers["WWW-Authenticate"] == challenge
    assert b"sub" not in resp.data


def test_expired_access_token_is_invalid_token_P26(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        tokens = _tokens(client, rp)
        traveller.shift(601)
        resp = client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_tampered_access_token_is_invalid_token_P26(client, rp):
    tokens = _tokens(client, rp)
    tampered = tokens["access_token"][:-2] + ("AA" if tokens["access_token"][-2:] != "AA" else "BB")
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {tampered}"})
    assert resp.status_code == 401


def _logout(client, **params):
    return client.get("/logout", query_string=params)


def test_logout_with_valid_hint_ends_session_and_redirects_with_state_P27(client, rp):
    tokens = _tokens(client, rp)
    resp = _logout(
        client,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=RP_LOGOUT,
        state="bye-1",
        client_id=rp.client_id,
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == RP_LOGOUT + "?state=bye-1"
    _, challenge = pkce_pair()
    silent = client.get("/authorize", query_string=authorize_params(rp, challenge, prompt="none"))
    assert query(silent.headers["Location"])["error"] == "login_required"


def test_old_session_cookie_is_useless_after_logout_S03(app, client, rp):
    tokens = _tokens(client, rp)
    cookie = client.get_cookie("idp_session").value
    _logout(client, id_token_hint=tokens["id_token"])
    replay = app.test_client()
    replay.set_cookie("idp_session", cookie, domain="localhost")
    assert replay.get("/account").status_code == 302  # to the login page


@pytest.mark.parametrize("uri", ["https://evil.example.org/", RP_LOGOUT + "?foo=bar"])
def test_unregistered_post_logout_uri_never_redirects_P28(client, rp, uri):
    """SECURITY.md P-28, RP-Initiated Logout 1.0 sections 3-4: a valid hint with a
    post_logout_redirect_uri that is not registered exactly is an erroneous request:
    the GET neither signs out nor redirects; the person is asked, and confirming signs
    out without the browser ever being sent to that URI."""
    tokens = _tokens(client, rp)
    resp = _logout(
        client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=uri, state="s1"
    )
    assert resp.status_code == 200 and "Location" not in resp.headers
    assert b"confirm-logout" in resp.data
    assert client.get("/account").status_code == 200  # not signed out by the GET
    confirmed = client.post(
        "/logout/confirm",
        data={
            "csrf_token": csrf_token(resp.get_data(as_text=True)),
            "client_id": rp.client_id,
            "post_logout_redirect_uri": uri,
            "state": "s1",
        },
    )
    assert confirmed.status_code == 200 and "Location" not in confirmed.headers
    assert b'id="signed-out"' in confirmed.data
    assert client.get("/account").status_code == 302


def test_logout_without_hint_asks_for_confirmation_P28(client, rp):
    _tokens(client, rp)
    page = _logout(client, client_id=rp.client_id, post_logout_redirect_uri=RP_LOGOUT, state="s1")
    assert page.status_code == 200 and b"confirm-logout" in page.data
    assert client.get("/account").status_code == 200  # still signed in
    resp = client.post(
        "/logout/confirm",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "client_id": rp.client_id,
            "post_logout_redirect_uri": RP_LOGOUT,
            "state": "s1",
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == RP_LOGOUT + "?state=s1"
    assert client.get("/account").status_code == 302


def test_logout_confirmation_without_csrf_changes_nothing_S05(client, rp):
    _tokens(client, rp)
    resp = client.post("/logout/confirm", data={"client_id": rp.client_id})
    assert resp.status_code == 400
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("kind", ["alg-none", "foreign-key"])
def test_forged_hint_never_logs_out_silently_P28(client, rp, kind):
    _tokens(client, rp)
    hint = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." if kind == "alg-none" else _foreign_jwt()
    resp = _logout(client, id_token_hint=hint, post_logout_redirect_uri=RP_LOGOUT)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("kind", jose_attacks.KINDS)
def test_hint_alg_confusion_or_header_key_never_logs_out_I07_P28(client, rp, kind):
    """SECURITY.md I-07, P-28: a hint with the claims of the signed-in person's real ID
    token, signed HS256 with our public key or by an attacker's key in a ``jwk``/``jku``
    header, is not a valid hint: no logout, no redirect to post_logout_redirect_uri
    (a valid one would do both at once, without asking)."""
    tokens = _tokens(client, rp)
    jwks = client.get("/jwks.json").get_json()
    hint = jose_attacks.forge(kind, jose_attacks.claims_of(tokens["id_token"]), jwks)
    resp = _logout(
        client,
        id_token_hint=hint,
        post_logout_redirect_uri=RP_LOGOUT,
        client_id=rp.client_id,
        state="bye-1",
    )
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert b"invalid_request" in resp.data
    assert client.get("/account").status_code == 200  # still signed in


def test_hint_for_another_user_asks_confirmation(client, app, db, rp):
    make_user(db, "bob")
    alice_hint = _tokens(client, rp)["id_token"]
    bob = app.test_client()
    get_code(bob, rp, username="bob")
    resp = _logout(bob, id_token_hint=alice_hint, post_logout_redirect_uri=RP_LOGOUT)
    assert resp.status_code == 200 and b"confirm-logout" in resp.data
    assert bob.get("/account").status_code == 200
