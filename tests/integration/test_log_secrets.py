"""The logs of a whole run hold none of its secrets (issue 13; SECURITY.md X-07).

A live IdP (a real HTTP server on a free port, in this process so that every log
record of it can be captured) is driven over HTTP through sign-in with password and
emailed step-up code, code exchange, refresh, userinfo, introspection, a forgot-password
code and a registration with a national ID number, with every logger at DEBUG and the
JSON format on. Then every log line, and everything written to stdout and stderr, is
searched for each secret used.
"""

from __future__ import annotations

import logging
import threading

import pytest
import requests
from werkzeug.serving import make_server

from idp.dev.registry import serve_registry
from idp.enrollment import pii
from idp.enrollment.identity import check_national_id, thai_id_check_digit
from idp.ops.request_log import JsonFormatter
from tests.factories import PASSWORD, make_client, make_user, query
from tests.integration import test_registration as registration
from tests.integration.test_mfa import Flow, _client_row, _email_code, _send_email
from tests.integration.test_password_reset import _codes, _enter, _new_password, _start

ALICE_ID = "110170020345" + thai_id_check_digit("110170020345")
NEW_PASSWORD = "a brand new passphrase"  # noqa: S105


class _Answer:
    """A requests response shaped like the Flask test client's, for the helpers."""

    def __init__(self, resp: requests.Response) -> None:
        self.resp, self.status_code, self.headers = resp, resp.status_code, resp.headers

    def get_data(self, as_text: bool = False):
        return self.resp.text if as_text else self.resp.content

    def get_json(self):
        return self.resp.json()


class HttpClient:
    """The test client's interface over real HTTP (no redirects followed), so the flow
    helpers of the other integration tests drive the live server unchanged."""

    def __init__(self, base: str) -> None:
        self.base, self.http = base, requests.Session()

    def _url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return self.base + path

    def get(self, path: str, headers: dict | None = None) -> _Answer:
        return _Answer(self.http.get(self._url(path), headers=headers, allow_redirects=False))

    def post(self, path: str, data: dict | None = None, auth=None, headers=None) -> _Answer:
        url = self._url(path)
        return _Answer(
            self.http.post(url, data=data, auth=auth, headers=headers, allow_redirects=False)
        )

    def set_cookie(self, key: str, value: str, domain: str = "localhost") -> None:
        # http.cookiejar files a dotless host's cookies under "HOST.local" (RFC 2965).
        self.http.cookies.set(key, value, domain=f"{domain}.local")


class _Capture(logging.Handler):
    """Every record, formatted as the JSON lines production writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _step_ups(http: HttpClient) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body = http.get("/metrics").get_data(as_text=True)
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "idp_step_ups_total" and s.labels == {"factor": "email"}
    )


@pytest.fixture
def registry_url():
    with serve_registry() as url:
        yield url


@pytest.fixture
def live(app_factory, smtp_sink, registry_url):
    """The IdP on a free port of localhost, logging JSON at DEBUG to a capture."""
    from tests.served import free_port

    port = free_port()
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    # The test's own apparatus, not the IdP: its HTTP client (urllib3 logs each URL)
    # and its SMTP sink (aiosmtpd logs every mail it receives, codes and all).
    apparatus = [logging.getLogger(name) for name in ("urllib3", "mail.log")]
    apparatus_levels = [logger.level for logger in apparatus]
    for logger in apparatus:
        logger.setLevel(logging.WARNING)
    root.addHandler(capture)
    app = app_factory(
        issuer=f"http://localhost:{port}",
        smtp_url=smtp_sink.url,
        registry_url=registry_url,
        log_format="json",
        log_level="DEBUG",
        password_reset_rate_limit="10000 per minute",
        password_reset_answer_ms=0,
        **registration.ROOMY,
    )
    server = make_server("localhost", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, HttpClient(f"http://localhost:{port}"), capture
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        root.removeHandler(capture)
        for handler in [h for h in root.handlers if getattr(h, "_idp_ops_handler", False)]:
            root.removeHandler(handler)
        root.setLevel(old_level)
        for logger, level in zip(apparatus, apparatus_levels, strict=True):
            logger.setLevel(level)


def test_a_full_run_logs_no_password_code_token_secret_or_id_number_x07(live, db, smtp_sink, capfd):
    app, http, capture = live
    settings = app.extensions["idp_settings"]
    alice = make_user(db, "alice", locale="en")
    for name, value in pii.seal(settings, check_national_id(ALICE_ID)).columns().items():
        setattr(alice, name, value)
    rp = make_client(db)
    from idp.oidc.acr import ACR_MFA_EMAIL

    _client_row(db, rp).min_acr = ACR_MFA_EMAIL
    db.commit()
    secrets: dict[str, str] = {"password": PASSWORD, "client secret": rp.secret}
    step_ups_before = _step_ups(http)

    # Sign-in with password, step-up by emailed code, code exchange.
    flow = Flow(http, rp, scope="openid profile email offline_access").login()
    assert flow.at("/mfa/challenge"), flow.location
    assert _send_email(flow).status_code == 303
    secrets["email code"] = _email_code(smtp_sink, "alice@example.org")
    flow.submit_code("email", secrets["email code"])
    secrets["authorization code"] = query(flow.location)["code"]
    tokens = flow.tokens()
    for kind in ("access_token", "refresh_token", "id_token"):
        secrets[kind] = tokens[kind]
    secrets["session cookie"] = http.http.cookies.get("idp_session")
    assert secrets["session cookie"]

    # Refresh, userinfo, introspection.
    refreshed = http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    ).get_json()
    secrets["rotated refresh token"] = refreshed["refresh_token"]
    secrets["refreshed access token"] = refreshed["access_token"]
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert http.get("/userinfo", headers=bearer).status_code == 200
    answer = http.post(
        "/introspect", data={"token": refreshed["access_token"]}, auth=(rp.client_id, rp.secret)
    )
    assert answer.get_json()["active"] is True

    # Forgot password: the national ID number, the mailed code, a new password.
    reset = HttpClient(http.base)
    assert _start(reset, "alice", ALICE_ID).status_code == 303
    secrets["reset code"] = _codes(smtp_sink)[-1]
    assert _enter(reset, secrets["reset code"]).status_code == 303
    assert _new_password(reset, NEW_PASSWORD).status_code == 303
    secrets["new password"] = NEW_PASSWORD
    secrets["national ID number"] = ALICE_ID

    # Registration with a national ID number through the population registry.
    newcomer = HttpClient(http.base)
    newcomer.set_cookie("idp_lang", "en")
    assert registration.step1(newcomer).status_code == 303
    assert (
        registration._post(
            newcomer, "/register/prove", action="registry", **registration.SOMCHAI
        ).status_code
        == 303
    )
    assert newcomer.get("/register/details").status_code == 200  # mails the code
    secrets["registration code"] = registration.code_for(smtp_sink)
    assert registration.details(newcomer, secrets["registration code"]).status_code == 303
    secrets["registered national ID number"] = registration.SOMCHAI_ID
    secrets["registered password"] = registration.PASSWORD

    # The metrics saw the step-up, and their page (part of the scan) holds no secret.
    assert _step_ups(http) - step_ups_before == 1
    metrics_page = http.get("/metrics").get_data(as_text=True)

    captured = capfd.readouterr()
    output = "\n".join([*capture.lines, captured.out, captured.err, metrics_page])
    assert len(capture.lines) > 50  # the run was logged at all, DEBUG lines included
    assert any('"logger": "idp.request"' in line for line in capture.lines)
    leaked = {
        name: sorted({line[:120] for line in output.splitlines() if value in line})
        for name, value in secrets.items()
        if value and value in output
    }
    assert leaked == {}, f"secrets in the logs: {leaked}"
