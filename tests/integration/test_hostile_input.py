"""Values an attacker controls that reach a URL, a header or a database query: never a
500, never a logged exception, never a redirect to an unverified URI, never a raw CR/LF
in a header (SECURITY.md I-01, I-03, I-08; RFC 6749 4.1.2.1, 5.2; RFC 3986 2)."""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlencode, urlsplit

import pytest

from tests.factories import (
    RP,
    RP_LOGOUT,
    authorize_params,
    csrf_token,
    login,
    make_client,
    make_user,
    pkce_pair,
    query,
)

HOSTILE = {
    "cr": "a\rb",
    "lf": "a\nb",
    "crlf": "a\r\nSet-Cookie: evil=1",
    "nul": "a\x00b",
    "overlong": "x" * 100_000,
}


@pytest.fixture
def rp(db):
    make_user(db)
    return make_client(
        db, grant_types=["authorization_code", "refresh_token", "client_credentials"]
    )


def _no_crash(resp, caplog) -> None:
    """The answer is a 4xx or a redirect, and nothing was logged as an error."""
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    location = resp.headers.get("Location", "")
    assert "\r" not in location and "\n" not in location and "\x00" not in location
    assert "evil" not in "".join(f"{k}:{v}" for k, v in resp.headers.items() if k != "Location")


def _redirects_only_to_the_registered_uri(resp) -> None:
    location = resp.headers.get("Location")
    if location and not location.startswith("/"):
        assert location.startswith(RP + "?"), location


@pytest.mark.parametrize(
    "bad",
    [
        RP + "\r\nX-Evil: 1",
        RP + "\n",
        RP + "\r",
        RP + '"',
        RP + "\\",
        RP + "/ก",
        RP + " ",
    ],
    ids=["crlf", "lf", "cr", "quote", "backslash", "non-ascii", "space"],
)
def test_bad_characters_in_redirect_uri_are_the_error_page_never_a_redirect_I03(
    client, rp, caplog, bad
):
    """RFC 6749 4.1.2.1: an invalid redirect_uri is never redirected to. Authlib echoes the
    URI into its error description and its own OAuth2Error refuses such characters with a
    ValueError, which was a 500 with a logged traceback."""
    _, challenge = pkce_pair()
    client.set_cookie("idp_lang", "en", domain="localhost")
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, redirect_uri=bad)))
    _no_crash(resp, caplog)
    assert resp.status_code == 400 and "Location" not in resp.headers
    body = resp.get_data(as_text=True)
    assert "invalid_request" in body and "This sign-in request cannot be completed" in body


def test_nul_in_redirect_uri_is_refused_without_redirect_I03(client, rp, caplog):
    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge, redirect_uri=RP + "\x00")
    resp = client.get("/authorize?" + urlencode(params))
    _no_crash(resp, caplog)
    assert resp.status_code == 400 and "Location" not in resp.headers


AUTHORIZE_PARAMS = [
    "redirect_uri",
    "state",
    "response_type",
    "client_id",
    "scope",
    "nonce",
    "prompt",
    "max_age",
    "ui_locales",
    "login_hint",
    "acr_values",
    "claims",
    "id_token_hint",
    "code_challenge",
    "code_challenge_method",
    "idp_flow",
]


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("name", AUTHORIZE_PARAMS)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_authorize_parameters_never_crash_I03(client, rp, caplog, name, kind, signed_in):
    """Every parameter of /authorize, and the IdP page it leads to (login, consent)."""
    if signed_in:
        login(client)
        caplog.clear()
    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge)
    params[name] = (RP if name == "redirect_uri" else "") + HOSTILE[kind]
    resp = client.get("/authorize?" + urlencode(params))
    _no_crash(resp, caplog)
    _redirects_only_to_the_registered_uri(resp)
    if resp.headers.get("Location", "").startswith("/"):
        _no_crash(client.get(resp.headers["Location"]), caplog)


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize(
    "name", ["post_logout_redirect_uri", "state", "client_id", "id_token_hint"]
)
def test_end_session_parameters_never_crash_I03(client, rp, caplog, name, kind):
    """RP-initiated logout: the request, and the confirmation form posting them back."""
    params = {"client_id": rp.client_id, "post_logout_redirect_uri": RP_LOGOUT, "state": "s"}
    params[name] = (RP_LOGOUT if name == "post_logout_redirect_uri" else "") + HOSTILE[kind]
    login(client)
    caplog.clear()
    page = client.get("/logout?" + urlencode(params))
    _no_crash(page, caplog)
    token = csrf_token(page.get_data(as_text=True)) if page.status_code == 200 else ""
    resp = client.post("/logout/confirm", data={**params, "csrf_token": token})
    _no_crash(resp, caplog)
    location = resp.headers.get("Location")
    if location:
        assert location.startswith(RP_LOGOUT)


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize(
    "path,name",
    [
        ("/login", "next"),
        ("/login", "flow"),
        ("/mfa/challenge", "flow"),
        ("/mfa/enrol", "flow"),
        ("/orgs/select", "flow"),
        ("/consent", "flow"),
    ],
)
def test_idp_page_parameters_never_crash_I03_I08(client, rp, caplog, path, name, kind):
    login(client)
    caplog.clear()
    resp = client.get(path, query_string={name: HOSTILE[kind]})
    _no_crash(resp, caplog)
    page = client.get("/login")
    resp = client.post(
        path,
        query_string={name: HOSTILE[kind]},
        data={"username": "alice", "password": "x", "csrf_token": csrf_token(page.text)},
    )
    _no_crash(resp, caplog)
    assert not resp.headers.get("Location", "/").startswith(("//", "http"))


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize(
    "name", ["grant_type", "scope", "client_id", "code", "redirect_uri", "refresh_token"]
)
def test_token_parameters_never_crash_I03(client, rp, caplog, name, kind):
    """The token endpoint answers an OAuth JSON error (RFC 6749 5.2), never a 500."""
    grant = "refresh_token" if name == "refresh_token" else "authorization_code"
    if name == "scope":
        grant = "client_credentials"
    data = {"grant_type": grant, "code": "c", "redirect_uri": RP, "code_verifier": "v" * 43}
    data[name] = HOSTILE[kind]
    resp = client.post("/token", data=data, auth=(rp.client_id, rp.secret))
    _no_crash(resp, caplog)
    assert resp.status_code in (400, 401, 413) and "error" in resp.get_json()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_basic_credentials_with_hostile_client_id_never_crash_I03(client, rp, caplog, kind):
    raw = f"{HOSTILE[kind]}:secret".encode()
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    _no_crash(resp, caplog)
    assert resp.status_code in (400, 401) and resp.get_json()["error"] in (
        "invalid_client",
        "invalid_request",
    )


@pytest.mark.parametrize("kind", ["nul", "overlong"])
@pytest.mark.parametrize("path", ["/token", "/userinfo", "/.well-known/openid-configuration"])
def test_hostile_origin_header_is_never_reflected_S07_I03(app, rp, caplog, path, kind):
    """CR/LF cannot even be sent through the test client (werkzeug refuses a header with a
    newline, as any WSGI server does); NUL and overlong values get here."""
    client = app.test_client()
    origin = "https://evil.example" + HOSTILE[kind]
    if path == "/token":
        resp = client.post(path, data={"grant_type": "x"}, headers={"Origin": origin})
    else:
        resp = client.get(path, headers={"Origin": origin})
    _no_crash(resp, caplog)
    # discovery is public metadata ("*"); nothing echoes the caller's origin
    assert resp.headers.get("Access-Control-Allow-Origin") in (None, "*")


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "x" * 300])
def test_host_header_with_an_overlong_label_is_400_not_500_I01(app, caplog, host):
    """werkzeug cannot IDNA-encode such a host (BadHost); the error page must not need a
    URL adapter to render."""
    resp = app.test_client().get("/login", headers={"Host": host})
    assert resp.status_code == 400
    _no_crash(resp, caplog)


def test_nul_in_any_form_value_is_400_I03(client, rp, caplog):
    """PostgreSQL refuses NUL in text, so such a value must never reach a query."""
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"username": "a\x00b", "password": "x", "csrf_token": csrf_token(page.text)},
    )
    _no_crash(resp, caplog)
    assert resp.status_code == 400


def test_token_request_without_grant_type_is_invalid_request_rfc6749_5_2(client, rp):
    """RFC 6749 5.2: a missing required parameter is ``invalid_request``;
    ``unsupported_grant_type`` is for a grant type the server does not know."""
    resp = client.post("/token", data={"code": "c"}, auth=(rp.client_id, rp.secret))
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_request"
    assert "grant_type" in resp.get_json()["error_description"]
    empty = client.post("/token", data={"grant_type": ""}, auth=(rp.client_id, rp.secret))
    assert empty.get_json()["error"] == "invalid_request"


def test_unknown_grant_type_is_still_unsupported_grant_type_rfc6749_5_2(client, rp):
    resp = client.post(
        "/token", data={"grant_type": "urn:example:nope"}, auth=(rp.client_id, rp.secret)
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "unsupported_grant_type"


def test_error_redirect_keeps_state_encoded_and_iss_I03(client, rp):
    """A state with CR/LF is echoed percent-encoded (RFC 6749 4.1.2.1), never raw."""
    _, challenge = pkce_pair()
    params = authorize_params(rp, challenge, state="a\r\nb", prompt="none")
    resp = client.get("/authorize?" + urlencode(params))
    assert resp.status_code == 303
    location = urlsplit(resp.headers["Location"])
    assert "state=a%0D%0Ab" in location.query and "error=login_required" in location.query


@pytest.mark.parametrize("scope", ['openid a"b', "openid ขอ", "openid a\\b"])
def test_unknown_scope_with_forbidden_characters_is_invalid_scope_P07_I03(client, rp, scope):
    """The unknown scope is echoed in the description only when RFC 6749 allows its
    characters there; before, Authlib's ValueError made this a 500."""
    resp = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(rp.client_id, rp.secret),
    )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope"
    _, challenge = pkce_pair()
    login(client)
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, scope=scope)))
    assert resp.status_code == 303 and query(resp.headers["Location"])["error"] == "invalid_scope"


def test_error_description_in_a_redirect_has_only_allowed_characters_rfc6749_4_1_2_1(client, rp):
    """A description naming a request parameter is cut to %x20-21 / %x23-5B / %x5D-7E."""
    _, challenge = pkce_pair()
    params = {**authorize_params(rp, challenge), 'x"\\ก\r\n': "v" * 5000}
    resp = client.get("/authorize?" + urlencode(params))
    assert resp.status_code == 303
    answer = query(resp.headers["Location"])
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "Parameter 'x' is too long."
