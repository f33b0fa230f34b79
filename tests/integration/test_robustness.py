"""Failure behaviour and input robustness (SECURITY.md D-03, D-04, I-01, I-05, I-06)."""

from __future__ import annotations

from unittest import mock

import pytest
from sqlalchemy import func, select

from idp.models import AuthorizationCode, Grant, Token
from idp.oidc import server as oidc_server
from tests.factories import exchange, get_code, login, make_client, make_user


@pytest.fixture
def rp(db):
    make_user(db)
    return make_client(db)


def test_failure_during_token_issuance_rolls_back_everything_D03(client, db, rp):
    code, verifier, _ = get_code(client, rp)
    real_save = oidc_server.save_token

    def save_then_fail(token, request):
        real_save(token, request)
        raise RuntimeError("disk full")

    server = client.application.extensions["idp_oauth_server"]
    with mock.patch.object(server, "_save_token", save_then_fail):
        resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 500
    assert resp.get_json()["error"] == "server_error"
    assert "disk full" not in resp.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Token)) == 0
    assert db.scalar(select(func.count()).select_from(Grant)) == 0
    row = db.scalar(select(AuthorizationCode))
    assert row.used_at is None  # the code was not consumed by the failed request
    assert exchange(client, rp, code, verifier).status_code == 200


def test_unexpected_error_page_is_generic_with_reference_D04(app):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "Reference" in body or "อ้างอิง" in body


def test_oversized_body_is_413_I01(client, rp):
    resp = client.post("/token", data={"grant_type": "x" * (2 * 1024 * 1024)})
    assert resp.status_code == 413


def test_too_many_form_fields_is_413_whatever_else_is_right_I01(client, db):
    """SECURITY.md I-01: a valid token request padded to 5000 form fields is refused
    before it is parsed into memory (Werkzeug's form-part limit), while the same
    request with a modest number of extra fields is answered normally."""
    m2m = make_client(
        db, name="Machine", grant_types=["client_credentials"], redirect_uris=(), scopes=["x:read"]
    )

    def token_request(extra_fields: int):
        body = "grant_type=client_credentials&scope=x:read&" + "&".join(
            f"f{i}=1" for i in range(extra_fields)
        )
        return client.post(
            "/token",
            data=body,
            content_type="application/x-www-form-urlencoded",
            auth=(m2m.client_id, m2m.secret),
        )

    assert token_request(100).status_code == 200
    resp = token_request(5000)
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "invalid_request"


def test_too_many_form_fields_on_a_page_is_413_before_the_csrf_check_I01(client):
    body = "username=alice&password=x&" + "&".join(f"f{i}=1" for i in range(5000))
    resp = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 413  # not the CSRF error (400), which parses the form first


@pytest.mark.parametrize("payload", ["' OR 1=1--", "x' UNION SELECT * FROM users--", "%'"])
def test_sql_injection_payloads_are_literal_I05(client, rp, payload):
    client.set_cookie("idp_lang", "en", domain="localhost")
    resp = login(client, username=payload, password=payload)
    assert resp.status_code == 200 and b"Sign-in failed" in resp.data
    assert client.get("/authorize", query_string={"client_id": payload}).status_code == 400


def test_xss_payloads_are_escaped_I06(client, db):
    make_user(db)
    rp = make_client(db, name="<script>alert(1)</script>", skip_consent=False)
    login(client)
    from tests.factories import authorize_params, pkce_pair

    _, challenge = pkce_pair()
    resp = client.get("/authorize", query_string=authorize_params(rp, challenge))
    consent = client.get(resp.headers["Location"])
    assert b"<script>alert(1)</script>" not in consent.data
    assert b"&lt;script&gt;" in consent.data
    payload = '"><svg onload=alert(1)>'
    resp = client.get("/login", query_string={"flow": payload, "lang": "en"})
    assert payload.encode() not in resp.data
    page = client.get("/authorize", query_string={"client_id": payload})
    assert b"<svg onload" not in page.data
