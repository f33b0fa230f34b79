"""The population-registry verifier against the demo registry as a real HTTP server
(MISSION C2; SECURITY.md X-03, X-04)."""

from __future__ import annotations

import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from idp.config import load_settings
from idp.dev.registry import serve_registry
from idp.enrollment.identity import IdentityDocument, check_national_id
from idp.enrollment.registry import RegistryVerifier
from idp.enrollment.verifiers import ClaimedIdentity, Method, Outcome

NOW = 1_800_000_000
SOMCHAI = ClaimedIdentity(
    document=check_national_id("1101700203450"),
    given_name_th="สมชาย",
    family_name_th="ใจดี",
    given_name_en="Somchai",
    family_name_en="Jaidee",
    birthdate=date(1985, 4, 12),
)


def _verifier(url: str, **kw) -> RegistryVerifier:
    return RegistryVerifier(load_settings({}, {"registry_url": url, **kw}))


@pytest.fixture(scope="module")
def registry_url():
    with serve_registry(token="registry-test-token") as url:
        yield url


def test_a_person_in_the_registry_is_verified_with_what_was_confirmed(registry_url):
    verdict = _verifier(registry_url, registry_token="registry-test-token").verify(SOMCHAI, NOW)
    assert verdict.outcome is Outcome.VERIFIED and verdict.method is Method.REGISTRY
    assert verdict.trust_framework == "th_dopa" and verdict.evidence_type == "electronic_record"
    assert verdict.evidence_ref.startswith("REG-") and verdict.at == NOW
    assert verdict.claims == {
        "given_name#th": "สมชาย",
        "family_name#th": "ใจดี",
        "birthdate": "1985-04-12",
        "given_name": "Somchai",
        "family_name": "Jaidee",
    }
    assert "1101700203450" not in repr(verdict)  # no number in the verdict


@pytest.mark.parametrize(
    "change",
    [
        {"birthdate": date(1985, 4, 13)},
        {"family_name_th": "ใจร้าย"},
        {"document": check_national_id("1103700456121")},  # someone else's ID
    ],
)
def test_a_mismatch_is_not_verified(registry_url, change):
    claim = ClaimedIdentity(**{**SOMCHAI.__dict__, **change})
    verdict = _verifier(registry_url, registry_token="registry-test-token").verify(claim, NOW)
    assert verdict.outcome is Outcome.NOT_VERIFIED and verdict.reason == "no_match"
    assert verdict.claims == {} and verdict.trust_framework == ""


def test_a_refused_token_is_unavailable_not_a_no(registry_url):
    verdict = _verifier(registry_url, registry_token="wrong").verify(SOMCHAI, NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "status_401")


def test_registry_down_is_unavailable_X03():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    verdict = _verifier(f"http://127.0.0.1:{port}/check").verify(SOMCHAI, NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "unreachable")


def test_a_passport_holder_is_not_checked_against_the_thai_registry(registry_url):
    claim = ClaimedIdentity(
        **{**SOMCHAI.__dict__, "document": IdentityDocument("passport", "TK1234567", "JP")}
    )
    assert _verifier(registry_url).verify(claim, NOW).reason == "not_applicable"


class _Hostile(BaseHTTPRequestHandler):
    """Answers by path: a redirect, a huge body, a slow drip, a wrong shape."""

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"match": true, "reference": "' + b"x" * 200_000 + b'"}')
        elif self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            self.server.drip_started.set()
            for _ in range(60):  # one byte a quarter second: each read is in time
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                self.server.release.wait(0.25)
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"match": "yes"}')


@pytest.fixture
def hostile():
    server = HTTPServer(("127.0.0.1", 0), _Hostile)
    server.drip_started, server.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "path, reason", [("/redirect", "status_302"), ("/huge", "bad_answer"), ("/shape", "bad_answer")]
)
def test_hostile_answers_are_untrusted_X03_X04(hostile, path, reason):
    verdict = _verifier(hostile + path).verify(SOMCHAI, NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, reason)


def test_a_slow_drip_is_cut_at_the_total_timeout_X03(hostile, monkeypatch):
    from idp.enrollment import registry

    monkeypatch.setattr(registry, "TOTAL_TIMEOUT", 1.0)
    verdict = _verifier(hostile + "/drip").verify(SOMCHAI, NOW)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNAVAILABLE, "timeout")
