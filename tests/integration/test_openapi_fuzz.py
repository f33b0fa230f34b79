"""schemathesis against a live idp (issue 13): the OpenAPI description shipped in the
repository (docs/openapi.yaml) holds for the protocol endpoints, no input makes one
answer 5xx, and every 4xx is an RFC-shaped JSON body: an ``error`` from RFC 6749 5.2 /
RFC 7009 2.2.1 (token, introspection, revocation) or RFC 6750 3.1 (UserInfo), with a
JSON content type and ``Cache-Control: no-store``. Schema-valid and schema-breaking
inputs, with no, wrong and real credentials and tokens; the examples are derandomized
(the same ones every run) and bounded, so the file takes a few seconds."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from tests.factories import exchange, get_code, make_client, make_user

SPEC = Path(__file__).parents[2] / "docs" / "openapi.yaml"
EXAMPLES = 25  # per operation and generation mode
OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "unsupported_token_type",  # RFC 7009 2.2.1
}
BEARER_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}  # RFC 6750 3.1


@pytest.fixture
def live(app_factory, db) -> Iterator[dict]:
    """idp served by werkzeug on a free port in a thread, with a confidential client, a
    person, and real tokens to mix into the fuzzed requests."""
    app = app_factory()
    make_user(db)
    rp = make_client(db)
    browser = app.test_client()
    code, verifier, _ = get_code(browser, rp, scope="openid profile email offline_access")
    tokens = exchange(browser, rp, code, verifier).get_json()
    assert "refresh_token" in tokens, tokens
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    try:
        yield {
            "base": f"http://127.0.0.1:{server.server_port}",
            "client_id": rp.client_id,
            "authorization": [f"Basic {basic}", f"Bearer {tokens['access_token']}"],
            "tokens": [tokens["access_token"], tokens["refresh_token"]],
        }
    finally:
        server.shutdown()
        thread.join(timeout=30)


def _header(response: Response, name: str) -> str:
    return (response.headers.get(name.lower()) or [""])[0]


def _assert_rfc_error(case, response: Response) -> None:
    """A 4xx is JSON with an RFC error code, never a page or a bare status."""
    status, path = response.status_code, case.path
    assert _header(response, "Cache-Control") == "no-store", (path, status)
    challenge = _header(response, "WWW-Authenticate")
    if path == "/userinfo" and status == 401 and "error=" not in challenge:
        # RFC 6750 3.1: no credentials at all gets the challenge alone, no error code.
        assert challenge == 'Bearer realm="idp"' and response.content == b"", response.content
        return
    content_type = _header(response, "Content-Type")
    assert content_type.startswith("application/json"), (path, status, response.content)
    body = json.loads(response.content)
    allowed = BEARER_ERRORS if path == "/userinfo" else OAUTH_ERRORS
    assert isinstance(body, dict) and body.get("error") in allowed, (path, status, body)
    if path == "/userinfo" and status in (401, 403):
        # RFC 6750 3: a refused token names its error in the challenge too.
        assert f'error="{body["error"]}"' in challenge, challenge
    if status == 401 and path != "/userinfo":
        assert body["error"] == "invalid_client" and challenge.startswith("Basic"), body


def _mixed_in_credentials(case, live: dict, data: st.DataObject) -> None:
    """Sometimes replace the fuzzed credentials or token with real ones, so that the
    paths behind a successful client authentication are fuzzed too."""
    choice = data.draw(st.sampled_from([None, *live["authorization"]]), label="authorization")
    if choice is not None:
        case.headers = {**(case.headers or {}), "Authorization": choice}
    if isinstance(case.body, dict) and data.draw(st.booleans(), label="real token"):
        field = "refresh_token" if "refresh_token" in case.body else "token"
        case.body = {**case.body, field: data.draw(st.sampled_from(live["tokens"]))}


def _fuzz(operation, mode, live: dict, session: requests.Session, seen: dict) -> None:
    """EXAMPLES derandomized requests to one operation; ``seen`` collects the statuses."""
    declared = operation.definition.raw.get("responses", {})

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        _mixed_in_credentials(case, live, data)
        response = case.call(base_url=live["base"], session=session, timeout=30)
        seen.setdefault(case.path, set()).add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code < 400:
            case.validate_response(
                response,
                checks=[
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )
        else:
            assert response.status_code < 500, response.content
            assert str(response.status_code) in declared, (case.path, response.status_code)
            _assert_rfc_error(case, response)

    run()


def test_protocol_endpoints_fuzzed_no_5xx_rfc_error_bodies_rfc6749_rfc6750_rfc7009_rfc7662(
    live,
):
    schema = schemathesis.openapi.from_path(str(SPEC))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        "GET /.well-known/openid-configuration",
        "GET /.well-known/oauth-authorization-server",
        "GET /jwks.json",
        "POST /token",
        "POST /introspect",
        "POST /revoke",
        "GET /userinfo",
        "POST /userinfo",
    }
    # Reads first: the token endpoint rotates the real refresh token (a replay then ends
    # its grant, RFC 9700 4.14.2) and revocation may revoke the real tokens.
    operations.sort(key=lambda op: op.path in ("/token", "/revoke"))
    seen: dict[str, set[int]] = {}
    with requests.Session() as session:
        for operation in operations:
            # Schema-breaking data needs something to break: a request body.
            has_body = "requestBody" in operation.definition.raw
            for mode in [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * has_body:
                _fuzz(operation, mode, live, session, seen)
    # The fuzzing reached behind the client check, not only its refusals.
    assert 200 in seen["/introspect"] and 200 in seen["/userinfo"], json.dumps(
        {k: sorted(v) for k, v in seen.items()}
    )


def test_refused_nul_answers_an_uncached_rfc_error_rfc6749_5_2_I03(client):
    """Found by the fuzzing above: a NUL in a token request is refused before the view
    (SECURITY.md I-03), and that refusal, like the endpoints' own errors, is JSON with
    ``Cache-Control: no-store`` (it came without it)."""
    for path in ("/token", "/introspect", "/revoke"):
        resp = client.post(path, data={"grant_type": "refresh_token", "client_id": "\x00"})
        assert resp.status_code == 400
        assert resp.get_json()["error"] == "invalid_request"
        assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/introspect", "/revoke"])
def test_unknown_token_type_hint_is_ignored_rfc7009_2_1_rfc7662_2_1(app, client, db, path):
    """Found by the fuzzing: an unknown ``token_type_hint`` was answered 401
    ``unsupported_token_type`` (no challenge: 401 is client authentication's, RFC 6749
    5.2). The server MAY ignore the hint (RFC 7009 2.1, RFC 7662 2.1) and looks the
    token up whatever its kind: the real token is introspected or revoked."""
    make_user(db)
    rp = make_client(db)
    code, verifier, _ = get_code(client, rp)
    access = exchange(client, rp, code, verifier).get_json()["access_token"]
    resp = client.post(
        path, data={"token": access, "token_type_hint": "id_token"}, auth=(rp.client_id, rp.secret)
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    check = client.post("/introspect", data={"token": access}, auth=(rp.client_id, rp.secret))
    assert check.get_json()["active"] is (path == "/introspect")
