"""Authorization endpoint (SECURITY.md P-04..P-16, I-02, I-03)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet

from tests import jose_attacks
from tests.factories import (
    RP,
    authorize_params,
    exchange,
    get_code,
    login,
    make_client,
    make_user,
    pkce_pair,
    query,
)


@pytest.fixture
def rp(db):
    make_user(db)
    return make_client(db)


def _authorize(client, params):
    return client.get("/authorize?" + urlencode(params))


def _claims(client, id_token):
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keyset, algorithms=["RS256", "ES256"]).claims


def _tokens(client, rp, **extra):
    code, verifier, _ = get_code(client, rp, **extra)
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example.org/callback",
        RP + "?foo=bar",
        RP + "/",
        "https://RP.example.org/callback",
        RP + "/extra",
        "http://rp.example.org/callback",
        RP + "#frag",
    ],
)
def test_unregistered_redirect_uri_is_error_page_never_redirect_P04(client, rp, bad):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, redirect_uri=bad))
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert b"invalid_request" in resp.data


def test_missing_redirect_uri_with_two_registered_is_error_page_P05(client, db):
    make_user(db)
    rp = make_client(db, redirect_uris=(RP, "https://rp.example.org/other"))
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, redirect_uri=None))
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_unknown_client_is_error_page_P05(client, rp):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, client_id="nope"))
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert b"invalid_client" in resp.data


def test_single_registered_redirect_uri_is_default(client, rp):
    code, _, loc = get_code(client, rp, redirect_uri=None)
    assert code and loc.startswith(RP)


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", None])
def test_implicit_and_missing_response_type_refused_P06(client, rp, response_type):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, response_type=response_type))
    assert resp.status_code in (302, 303)
    q = query(resp.headers["Location"])
    assert q["error"] == "unsupported_response_type"
    assert "code" not in q
    assert q["state"] == "st-123" and q["iss"] == "http://localhost"


@pytest.mark.parametrize("scope", ["profile email", "openid unknown_scope"])
def test_scope_without_openid_or_unknown_is_invalid_scope_P07(client, rp, scope):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, scope=scope))
    q = query(resp.headers["Location"])
    assert q["error"] == "invalid_scope"
    assert q["state"] == "st-123" and q["iss"] == "http://localhost"
    assert "code" not in q


def test_extra_params_reversed_order_and_post_succeed_P08(client, rp):
    verifier, challenge = pkce_pair()
    login(client)
    params = authorize_params(
        rp,
        challenge,
        extra="foobar",
        display="popup",
        ui_locales="en",
        claims_locales="th",
        login_hint="alice",
    )
    reversed_params = dict(reversed(list(params.items())))
    reversed_params["scope"] = "email profile openid"
    resp = client.post("/authorize", data=reversed_params)
    assert resp.status_code == 302
    q = query(resp.headers["Location"])
    assert q["code"] and q["state"] == "st-123" and q["iss"] == "http://localhost"


def test_success_response_carries_iss_and_exact_state_P09(client, rp):
    state = "a b&c=d/é"
    code, _, loc = get_code(client, rp, state=state)
    q = query(loc)
    assert q["state"] == state and q["iss"] == "http://localhost" and code


def test_prompt_none_without_session_is_login_required_P10(client, rp):
    _, challenge = pkce_pair()
    q = query(
        _authorize(client, authorize_params(rp, challenge, prompt="none")).headers["Location"]
    )
    assert q["error"] == "login_required" and q["state"] == "st-123" and "code" not in q


def test_prompt_none_with_session_keeps_sub_and_auth_time_P10(client, rp):
    first = _claims(client, _tokens(client, rp)["id_token"])
    second = _claims(client, _tokens(client, rp, prompt="none")["id_token"])
    assert second["sub"] == first["sub"]
    assert second["auth_time"] == first["auth_time"]


def test_prompt_none_with_login_is_invalid_request_P11(client, rp):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, prompt="none login"))
    assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_prompt_login_forces_new_authentication_P11(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        first = _claims(client, _tokens(client, rp)["id_token"])
        traveller.shift(30)
        _, challenge = pkce_pair()
        resp = _authorize(client, authorize_params(rp, challenge, prompt="login"))
        assert "/login" in resp.headers["Location"]
        second = _claims(client, _tokens(client, rp, prompt="login")["id_token"])
    assert second["auth_time"] == first["auth_time"] + 30


def test_max_age_enforced_server_side_P12(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        first = _claims(client, _tokens(client, rp)["id_token"])
        traveller.shift(2)
        same = _claims(client, _tokens(client, rp, max_age="10000")["id_token"])
        assert same["auth_time"] == first["auth_time"]
        _, challenge = pkce_pair()
        resp = _authorize(client, authorize_params(rp, challenge, max_age="1"))
        assert "/login" in resp.headers["Location"]
        newer = _claims(client, _tokens(client, rp, max_age="1")["id_token"])
    assert newer["auth_time"] == first["auth_time"] + 2


def test_max_age_zero_with_prompt_none_is_login_required(client, rp):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        _tokens(client, rp)
        traveller.shift(1)
        _, challenge = pkce_pair()
        resp = _authorize(client, authorize_params(rp, challenge, max_age="0", prompt="none"))
    assert query(resp.headers["Location"])["error"] == "login_required"


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_malformed_max_age_is_invalid_request(client, rp, value):
    login(client)
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, max_age=value))
    assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_id_token_hint_for_other_user_is_login_required_P13(client, app, db, rp):
    make_user(db, "bob")
    hint_alice = _tokens(client, rp)["id_token"]
    bob = app.test_client()
    _tokens(bob, rp, username="bob")
    _, challenge = pkce_pair()
    resp = _authorize(bob, authorize_params(rp, challenge, prompt="none", id_token_hint=hint_alice))
    assert query(resp.headers["Location"])["error"] == "login_required"


def test_id_token_hint_for_current_user_succeeds_P13(client, rp):
    tokens = _tokens(client, rp)
    again = _tokens(client, rp, prompt="none", id_token_hint=tokens["id_token"])
    assert _claims(client, again["id_token"])["sub"] == _claims(client, tokens["id_token"])["sub"]


def test_forged_id_token_hint_is_invalid_request(client, rp):
    login(client)
    _, challenge = pkce_pair()
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    resp = _authorize(client, authorize_params(rp, challenge, id_token_hint=forged))
    assert query(resp.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize("kind", jose_attacks.KINDS)
def test_id_token_hint_alg_confusion_or_header_key_is_invalid_request_I07(client, rp, kind):
    """SECURITY.md I-07 and section 6 (JOSE): the claims of a real ID token of ours for
    the signed-in person, but signed HS256 with our public key as the secret, or by an
    attacker's key carried in a ``jwk`` header or named by ``jku``. Accepted, the hint
    would match the session and prompt=none would return a code; it must be refused."""
    real = _tokens(client, rp)["id_token"]
    jwks = client.get("/jwks.json").get_json()
    forged = jose_attacks.forge(kind, jose_attacks.claims_of(real), jwks)
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, prompt="none", id_token_hint=forged))
    assert resp.status_code == 303 and resp.headers["Location"].startswith(RP + "?")
    q = query(resp.headers["Location"])
    assert q["error"] == "invalid_request" and "code" not in q


def test_nonce_optional_and_echoed_exactly_P14(client, rp):
    without = _claims(client, _tokens(client, rp, nonce=None)["id_token"])
    assert "nonce" not in without
    nonce = "n-" + "x" * 40
    assert _claims(client, _tokens(client, rp, nonce=nonce)["id_token"])["nonce"] == nonce


def test_public_client_without_code_challenge_is_invalid_request_P15(client, db):
    make_user(db)
    rp = make_client(db, public=True)
    resp = _authorize(client, authorize_params(rp, None))
    q = query(resp.headers["Location"])
    assert q["error"] == "invalid_request" and "PKCE" in q["error_description"]


def test_confidential_client_requires_pkce_by_default_P15(client, rp):
    resp = _authorize(client, authorize_params(rp, None))
    assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_plain_pkce_method_refused_P15(client, rp):
    verifier, _ = pkce_pair()
    params = authorize_params(rp, None, code_challenge=verifier, code_challenge_method="plain")
    assert query(_authorize(client, params).headers["Location"])["error"] == "invalid_request"


def test_challenge_without_method_refused_P15(client, rp):
    _, challenge = pkce_pair()
    params = authorize_params(rp, None, code_challenge=challenge)
    assert query(_authorize(client, params).headers["Location"])["error"] == "invalid_request"


def test_wrong_verifier_is_invalid_grant_P15(client, rp):
    code, _, _ = get_code(client, rp)
    wrong, _ = pkce_pair()
    resp = exchange(client, rp, code, wrong)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_client_not_requiring_pkce_works_with_and_without_P15(client, db):
    make_user(db)
    rp = make_client(db, require_pkce=False)
    login(client)
    resp = _authorize(client, authorize_params(rp, None))
    code = query(resp.headers["Location"])["code"]
    assert exchange(client, rp, code, None).status_code == 200
    # A verifier sent although no challenge was made is a downgrade attempt.
    resp = _authorize(client, authorize_params(rp, None))
    code = query(resp.headers["Location"])["code"]
    verifier, _ = pkce_pair()
    assert exchange(client, rp, code, verifier).status_code == 400
    # Valid PKCE from a client that does not require it still succeeds.
    code, verifier, _ = get_code(client, rp)
    assert exchange(client, rp, code, verifier).status_code == 200


@pytest.mark.parametrize(
    "param,error",
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
def test_request_objects_not_supported_P16(client, rp, param, error):
    login(client)
    _, challenge = pkce_pair()
    resp = _authorize(
        client, authorize_params(rp, challenge, **{param: "eyJhbGciOiJub25lIn0.e30."})
    )
    assert query(resp.headers["Location"])["error"] == error


@pytest.mark.parametrize(
    "param", ["client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge"]
)
def test_duplicate_parameters_are_invalid_request_I02(client, rp, param):
    _, challenge = pkce_pair()
    pairs = list(authorize_params(rp, challenge).items()) + [(param, "second")]
    resp = client.get("/authorize?" + urlencode(pairs))
    if resp.status_code == 400:
        assert b"invalid_request" in resp.data and "Location" not in resp.headers
    else:
        assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_crlf_in_state_does_not_inject_headers_I03(client, rp):
    _, challenge = pkce_pair()
    resp = _authorize(
        client,
        authorize_params(rp, challenge, state="x\r\nSet-Cookie: evil=1", response_type="token"),
    )
    assert "evil" not in resp.headers.get("Set-Cookie", "")
    assert "\n" not in resp.headers["Location"]


def test_oversized_parameter_rejected_I01(client, rp):
    login(client)
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, login_hint="x" * 5000))
    assert resp.status_code in (302, 303, 400, 414)
    if resp.status_code in (302, 303):
        assert query(resp.headers["Location"])["error"] == "invalid_request"


def test_consent_is_asked_remembered_and_deny_returns_access_denied(client, db):
    make_user(db)
    rp = make_client(db, skip_consent=False)
    login(client)
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge))
    assert "/consent" in resp.headers["Location"]
    page = client.get(resp.headers["Location"])
    assert b"Test RP" in page.data
    from tests.factories import csrf_token

    denied = client.post(
        resp.headers["Location"],
        data={"decision": "deny", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    q = query(denied.headers["Location"])
    assert q["error"] == "access_denied" and q["iss"] == "http://localhost"
    code, _, _ = get_code(client, rp)  # allows this time (helper clicks allow)
    assert code
    _, challenge = pkce_pair()
    again = _authorize(client, authorize_params(rp, challenge))
    assert query(again.headers["Location"]).get("code")  # remembered
    forced = _authorize(client, authorize_params(rp, challenge, prompt="consent"))
    assert "/consent" in forced.headers["Location"]
    silent = _authorize(
        client, authorize_params(rp, challenge, prompt="none", scope="openid profile email phone")
    )
    assert query(silent.headers["Location"])["error"] == "consent_required"


def test_flow_from_another_session_is_not_honoured_M10(client, app, rp):
    """SECURITY.md M-10: a flow id is bound to the session that started it. The replay
    carries the very same parameters, so only that binding can drop the flow: were it
    honoured, the other session's login (newer than the flow) would satisfy
    prompt=login and a code would be issued without a fresh login."""
    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge, prompt="login")
    resp = _authorize(client, params)
    flow = query(resp.headers["Location"])["flow"]
    other = app.test_client()
    login(other)  # after the flow started: auth_time >= the flow's start
    r = other.get("/authorize?" + urlencode({**params, "idp_flow": flow}))
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?flow=")


def test_unknown_flow_id_gets_a_new_flow_and_login_returns_to_the_client_M10(client, app, rp):
    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge)
    resp = _authorize(client, {**params, "idp_flow": "not-a-flow-of-this-session"})
    flow = query(resp.headers["Location"])["flow"]
    assert flow != "not-a-flow-of-this-session"
    after = login(client, flow=flow)
    assert after.headers["Location"].startswith("/authorize?")


def test_login_hint_prefills_username(client, rp):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, login_hint="alice@example.org"))
    page = client.get(resp.headers["Location"])
    assert b'value="alice@example.org"' in page.data


def test_ui_locales_selects_language(client, rp):
    _, challenge = pkce_pair()
    resp = _authorize(client, authorize_params(rp, challenge, ui_locales="en-US th"))
    page = client.get(resp.headers["Location"])
    assert b'<html lang="en">' in page.data
