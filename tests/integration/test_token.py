"""Token endpoint, refresh, client credentials, introspection, revocation
(SECURITY.md P-17..P-24, RFC 6749, RFC 7009, RFC 7662)."""

from __future__ import annotations

import base64
import threading

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.models import Token
from tests.factories import (
    confirm,
    csrf_token,
    exchange,
    get_code,
    make_client,
    make_user,
)

OFFLINE = "openid profile email offline_access"


@pytest.fixture
def rp(db):
    make_user(db)
    return make_client(db)


def _claims(client, id_token):
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keyset, algorithms=["RS256", "ES256"]).claims


def _bearer(client, token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def _refresh(client, rp, refresh_token, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return client.post("/token", data=data, auth=(rp.client_id, rp.secret))


def _offline_tokens(client, rp):
    code, verifier, _ = get_code(client, rp, scope=OFFLINE)
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200
    return resp.get_json()


def test_token_response_shape_and_id_token_claims_P21(client, rp):
    code, verifier, _ = get_code(client, rp)
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert "refresh_token" not in body  # no offline_access asked
    claims = _claims(client, body["id_token"])
    for claim in ("iss", "sub", "aud", "exp", "iat", "auth_time", "at_hash"):
        assert claim in claims
    assert claims["iss"] == "http://localhost" and claims["aud"] == rp.client_id
    assert claims["acr"] == "urn:idp:acr:pwd" and claims["amr"] == ["pwd"]
    assert len(claims["sub"]) <= 255 and claims["sub"].isascii()


def test_code_is_single_use_and_reuse_revokes_tokens_P17(client, rp):
    code, verifier, _ = get_code(client, rp, scope=OFFLINE)
    first = exchange(client, rp, code, verifier).get_json()
    second = exchange(client, rp, code, verifier)
    assert second.status_code == 400 and second.get_json()["error"] == "invalid_grant"
    assert _bearer(client, first["access_token"]).status_code == 401
    assert _refresh(client, rp, first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_parallel_redemption_yields_at_most_one_success_P18(app, rp):
    browser = app.test_client()
    code, verifier, _ = get_code(browser, rp)
    results = []

    def redeem():
        results.append(exchange(app.test_client(), rp, code, verifier).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1
    assert sorted(results) == [200] + [400] * 9


def test_code_bound_to_client_and_redirect_uri_P19(client, db, rp):
    other = make_client(db, name="Other")
    code, verifier, _ = get_code(client, rp)
    assert exchange(client, other, code, verifier).get_json()["error"] == "invalid_grant"
    resp = exchange(client, rp, code, verifier, redirect_uri="https://rp.example.org/other")
    assert resp.get_json()["error"] == "invalid_grant"
    # Neither failed attempt consumed the code for its rightful client.
    assert exchange(client, rp, code, verifier).status_code == 200


def test_code_expires_after_60_seconds_P19(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        code, verifier, _ = get_code(client, rp)
        traveller.shift(61)
        resp = exchange(client, rp, code, verifier)
    assert resp.get_json()["error"] == "invalid_grant"


def test_code_valid_within_60_seconds(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        code, verifier, _ = get_code(client, rp)
        traveller.shift(59)
        assert exchange(client, rp, code, verifier).status_code == 200


@pytest.mark.parametrize("auth", ["wrong-secret", "missing", "basic-unknown-client"])
def test_bad_client_authentication_is_invalid_client_P20(client, rp, auth):
    code, verifier, _ = get_code(client, rp)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
    }
    if auth == "wrong-secret":
        resp = client.post("/token", data=data, auth=(rp.client_id, "nope"))
    elif auth == "missing":
        resp = client.post("/token", data={**data, "client_id": rp.client_id})
    else:
        resp = client.post("/token", data=data, auth=("unknown", "nope"))
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] == "invalid_client"
    if auth != "missing":
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_client_secret_post_accepted(client, rp):
    code, verifier, _ = get_code(client, rp)
    resp = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_unsupported_grant_types_P20(client, rp, grant_type):
    resp = client.post("/token", data={"grant_type": grant_type}, auth=(rp.client_id, rp.secret))
    assert resp.get_json()["error"] == "unsupported_grant_type"


def test_client_credentials_not_allowed_is_unauthorized_client_P20(client, rp):
    resp = client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(rp.client_id, rp.secret)
    )
    assert resp.get_json()["error"] == "unauthorized_client"


def test_public_client_code_flow_with_pkce(client, db):
    make_user(db)
    rp = make_client(db, public=True)
    code, verifier, _ = get_code(client, rp)
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200
    assert exchange(client, rp, code, verifier).get_json()["error"] == "invalid_grant"


def test_public_client_without_verifier_refused(client, db):
    make_user(db)
    rp = make_client(db, public=True)
    code, _, _ = get_code(client, rp)
    resp = exchange(client, rp, code, None)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_refresh_rotates_and_reuse_revokes_family_P22(client, rp):
    first = _offline_tokens(client, rp)
    r2 = _refresh(client, rp, first["refresh_token"])
    assert r2.status_code == 200
    second = r2.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    c1, c2 = _claims(client, first["id_token"]), _claims(client, second["id_token"])
    assert c2["sub"] == c1["sub"] and c2["auth_time"] == c1["auth_time"]
    replay = _refresh(client, rp, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert _refresh(client, rp, second["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert _bearer(client, second["access_token"]).status_code == 401


def test_refresh_token_of_other_client_is_invalid_grant_P23(client, db, rp):
    other = make_client(db, name="Other")
    tokens = _offline_tokens(client, rp)
    assert _refresh(client, other, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_with_wider_scope_is_invalid_scope_P23(client, rp):
    tokens = _offline_tokens(client, rp)
    resp = _refresh(client, rp, tokens["refresh_token"], scope="openid phone")
    assert resp.get_json()["error"] == "invalid_scope"


def test_refresh_with_narrower_scope_succeeds(client, rp):
    tokens = _offline_tokens(client, rp)
    resp = _refresh(client, rp, tokens["refresh_token"], scope="openid offline_access")
    assert resp.status_code == 200 and resp.get_json()["scope"] == "openid offline_access"


def test_refresh_after_absolute_lifetime_is_invalid_grant_P24(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        tokens = _offline_tokens(client, rp)
        for _ in range(3):  # keep it used so the idle limit never bites
            traveller.shift(10 * 86400)
            resp = _refresh(client, rp, tokens["refresh_token"])
            if resp.status_code != 200:
                break
            tokens = resp.get_json()
    assert resp.get_json()["error"] == "invalid_grant"


def test_refresh_after_idle_lifetime_is_invalid_grant(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        tokens = _offline_tokens(client, rp)
        traveller.shift(15 * 86400)
        assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_after_user_disabled_is_invalid_grant_P24(client, db, rp):
    tokens = _offline_tokens(client, rp)
    from idp.models import User

    user = db.scalar(select(User).where(User.username_key == "alice"))
    user.is_active = False
    db.commit()
    assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert _bearer(client, tokens["access_token"]).status_code == 401


def test_refresh_after_password_change_is_invalid_grant_P24(client, db, rp):
    tokens = _offline_tokens(client, rp)
    from idp.models import User

    user = db.scalar(select(User).where(User.username_key == "alice"))
    user.password_changed_at = user.password_changed_at + 10**6
    db.commit()
    assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_after_consent_withdrawn_is_invalid_grant_P24(client, db):
    make_user(db)
    rp = make_client(db, skip_consent=False)
    tokens = _offline_tokens(client, rp)
    page = client.get("/account")
    resp = client.post(
        f"/account/consents/{rp.client_id}/revoke",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert confirm(client, resp).status_code == 303  # after the confirmation page
    assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert _bearer(client, tokens["access_token"]).status_code == 401


def test_client_credentials_for_allowed_client(client, db):
    m2m = make_client(
        db,
        name="Machine",
        grant_types=["client_credentials"],
        redirect_uris=(),
        scopes=["invoice:read", "invoice:write"],
    )
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "invoice:read"},
        auth=(m2m.client_id, m2m.secret),
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["scope"] == "invoice:read" and "refresh_token" not in body
    assert "id_token" not in body
    bad = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(m2m.client_id, m2m.secret),
    )
    assert bad.get_json()["error"] == "invalid_scope"
    other = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        auth=(m2m.client_id, m2m.secret),
    )
    assert other.get_json()["error"] == "invalid_scope"
    # Its token is not a user token: userinfo refuses it.
    assert _bearer(client, body["access_token"]).status_code == 401


def test_introspection_active_inactive_and_foreign_RFC7662(client, db, rp):
    tokens = _offline_tokens(client, rp)
    ok = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
    ).get_json()
    assert ok["active"] is True and ok["client_id"] == rp.client_id and ok["sub"]
    assert ok["scope"] == OFFLINE
    other = make_client(db, name="Other")
    foreign = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(other.client_id, other.secret)
    ).get_json()
    assert foreign == {"active": False}
    unknown = client.post(
        "/introspect", data={"token": "nope"}, auth=(rp.client_id, rp.secret)
    ).get_json()
    assert unknown == {"active": False}
    unauth = client.post("/introspect", data={"token": tokens["access_token"]})
    assert unauth.status_code == 401


def test_introspection_refused_for_public_clients(client, db):
    make_user(db)
    pub = make_client(db, public=True)
    resp = client.post("/introspect", data={"token": "x", "client_id": pub.client_id})
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"


def test_revocation_of_refresh_token_revokes_family_RFC7009(client, rp):
    tokens = _offline_tokens(client, rp)
    resp = client.post(
        "/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(rp.client_id, rp.secret),
    )
    assert resp.status_code == 200
    assert _bearer(client, tokens["access_token"]).status_code == 401
    assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    introspected = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
    ).get_json()
    assert introspected == {"active": False}


def test_revocation_of_access_token_and_unknown_token(client, rp):
    tokens = _offline_tokens(client, rp)
    assert (
        client.post(
            "/revoke", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
        ).status_code
        == 200
    )
    assert _bearer(client, tokens["access_token"]).status_code == 401
    assert _refresh(client, rp, tokens["refresh_token"]).status_code == 200
    assert (
        client.post(
            "/revoke", data={"token": "unknown"}, auth=(rp.client_id, rp.secret)
        ).status_code
        == 200
    )


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_client_cannot_revoke_another_clients_token_RFC7009_2_1(client, db, rp, kind):
    """RFC 7009 2.1: the server checks that the token was issued to the client asking;
    if not, the request is refused (RFC 6749 5.2: invalid_grant, "issued to another
    client") and the token is left alone: client A's access token still introspects
    as active for A and reads userinfo, and its refresh token still refreshes."""
    tokens = _offline_tokens(client, rp)
    other = make_client(db, name="Other")
    resp = client.post(
        "/revoke",
        data={"token": tokens[kind], "token_type_hint": kind},
        auth=(other.client_id, other.secret),
    )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    introspected = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.secret)
    ).get_json()
    assert introspected["active"] is True and introspected["client_id"] == rp.client_id
    assert _bearer(client, tokens["access_token"]).status_code == 200
    assert _refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_tokens_stored_only_as_digests(client, db, rp):
    tokens = _offline_tokens(client, rp)
    stored = {t.token_hash for t in db.scalars(select(Token))}
    assert tokens["access_token"] not in stored and tokens["refresh_token"] not in stored


@pytest.mark.parametrize("case", ["json-body", "query-params", "duplicate"])
def test_malformed_token_requests_are_invalid_request_I02_I03(client, rp, case):
    code, verifier, _ = get_code(client, rp)
    if case == "json-body":
        resp = client.post(
            "/token",
            json={"grant_type": "authorization_code", "code": code},
            auth=(rp.client_id, rp.secret),
        )
    elif case == "query-params":
        resp = client.post(
            f"/token?code={code}",
            data={"grant_type": "authorization_code"},
            auth=(rp.client_id, rp.secret),
        )
    else:
        resp = client.post(
            "/token",
            data=f"grant_type=authorization_code&code={code}&code=x",
            content_type="application/x-www-form-urlencoded",
            auth=(rp.client_id, rp.secret),
        )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_basic_auth_header_garbage_is_invalid_client(client, rp):
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()},
    )
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] == "invalid_client"
