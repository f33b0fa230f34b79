"""`idp serve` runs granian (or gunicorn) with several workers; rate limits can live in
Redis."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests

from tests.conftest import fresh_database_url
from tests.served import free_port, idp_serve


@pytest.mark.parametrize("server", [None, "gunicorn"])
def test_serve_starts_its_workers_and_serves_discovery(template_db, tmp_path, server):
    """`idp serve` on the default server (granian, no --server given) and on the
    selectable one."""
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=2, server=server) as served:
        assert f"Starting {server or 'granian'}" in served.output()
        resp = requests.get(f"{served.base}/.well-known/openid-configuration", timeout=10)
        assert resp.status_code == 200
        assert resp.json()["issuer"] == served.issuer
        jwks = requests.get(f"{served.base}/jwks.json", timeout=5).json()
        assert len(jwks["keys"]) >= 2
        assert len(served.worker_pids()) == 2
        assert "/jwks.json" in served.output(), "--access-log logs each request"


def test_killed_worker_is_respawned_and_service_goes_on(template_db, tmp_path):
    """Issue 13 "kill -9 of a worker": the server starts a new worker in its place and
    requests keep being answered (granian --respawn-failed-workers)."""
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=2) as served:
        victim = served.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while served.output().count("Started worker-") < 3:  # poll for the replacement
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.1)
        replacement = served.worker_pids()[-1]
        assert replacement != victim
        os.kill(replacement, 0)  # alive
        for _ in range(6):
            resp = requests.get(f"{served.base}/.well-known/openid-configuration", timeout=10)
            assert resp.status_code == 200
        assert served.process.poll() is None


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_real_server_sends_no_version_banner_D04(template_db, tmp_path, server):
    """SECURITY.md D-04: no server or framework version in the headers of the server
    people reach (`idp serve`), on pages, API answers and errors alike. The Flask test
    client writes no ``Server`` header at all, so only this can tell."""
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=1, server=server) as served:
        responses = [
            requests.get(served.base + path, timeout=10)
            for path in ("/login", "/.well-known/openid-configuration", "/does-not-exist")
        ]
        responses.append(requests.post(served.base + "/token", data={}, timeout=10))
    assert [r.status_code for r in responses] == [200, 200, 404, 400]
    for resp in responses:
        banner = " ".join(
            resp.headers.get(h, "") for h in ("Server", "X-Powered-By", "Via", "X-Runtime")
        )
        # Both servers name themselves but give no version; nothing else may.
        assert not re.search(r"\d|werkzeug|python|flask", banner, re.IGNORECASE), banner
        assert resp.headers.get("Server") in (None, server)


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own on a free port, nothing saved to disk, stopped afterwards, so
    no test ever touches (or flushes) a Redis someone else uses."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not shutil.which(binary):
        pytest.fail("redis-server is not installed (./dev installs Debian's redis-server)")
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    store = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 30
        while True:  # poll until it answers (not a timing assertion)
            try:
                store.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield store, f"redis://127.0.0.1:{port}/0"
    finally:
        store.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_login_throttle_shared_through_redis(app_factory, db, private_redis):
    """Two app instances (as two gunicorn workers) share one per-IP counter in Redis."""
    from tests.factories import csrf_token, make_user

    store, redis_url = private_redis
    settings = {"redis_url": redis_url, "login_rate_limit": "2 per minute"}
    make_user(db)

    def attempt(app) -> int:
        c = app.test_client()
        token = csrf_token(c.get("/login").get_data(as_text=True))
        return c.post(
            "/login", data={"username": "alice", "password": "wrong password!", "csrf_token": token}
        ).status_code

    first = app_factory(**settings)
    codes = [attempt(first), attempt(first)]
    second = app_factory(**settings)
    codes.append(attempt(second))
    assert codes == [200, 200, 429]
    assert any(b"idp" in k for k in store.keys("*"))


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_access_log_names_route_patterns_not_secret_paths_X07(template_db, tmp_path, server):
    """SECURITY.md X-07 / issue 13 "never a ... token" in the logs: the server's own
    access line (written by granian or gunicorn from the raw request) shows
    ``/register/resume/<token>``, not the token a mailed link carries, and never a query
    string (``id_token_hint``)."""
    url = fresh_database_url(template_db, tmp_path)
    secrets_sent = ["ResumeSecret4711", "InviteSecret4712", "HintSecret4713", "Typo4714"]
    with idp_serve(url, tmp_path / "serve.log", workers=1, server=server) as served:
        requests.get(f"{served.base}/register/resume/ResumeSecret4711", timeout=10)
        requests.get(f"{served.base}/invite/InviteSecret4712", timeout=10)
        requests.get(f"{served.base}/logout?id_token_hint=HintSecret4713", timeout=10)
        requests.get(f"{served.base}/no/such/Typo4714", timeout=10)
        requests.get(f"{served.base}/jwks.json", timeout=10)
        deadline = time.monotonic() + 30
        while "/jwks.json" not in served.output():  # the last line is written
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.1)
        output = served.output()
    assert [s for s in secrets_sent if s in output] == []
    assert "/register/resume/<token>" in output
    assert "/invite/<token>" in output
    assert "(unmatched)" in output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sighup_replaces_every_worker_while_requests_keep_being_answered(template_db, tmp_path):
    """Issue 12 "operable": ``kill -HUP`` on the main process (e.g. after an upgrade)
    replaces the workers one at a time, and requests sent all the while are answered:
    none fails, none with a 5xx."""
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=2) as served:
        before = served.worker_pids()
        statuses: list[int | str] = []
        stop = threading.Event()

        def traffic() -> None:
            with requests.Session() as http:  # keep-alive: a connection outlives a worker
                while not stop.is_set():
                    try:
                        r = http.get(f"{served.base}/.well-known/openid-configuration", timeout=10)
                        statuses.append(r.status_code)
                    except requests.RequestException as exc:
                        statuses.append(type(exc).__name__)

        senders = [threading.Thread(target=traffic) for _ in range(2)]
        for sender in senders:
            sender.start()
        try:
            served.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while len(served.worker_pids()) < 2 * len(before):  # poll for both replacements
                assert time.monotonic() < deadline, served.output()
                time.sleep(0.1)
            seen_after = len(statuses)
            while len(statuses) < seen_after + 50:  # the new workers answer too
                assert time.monotonic() < deadline, served.output()
                time.sleep(0.05)
        finally:
            stop.set()
            for sender in senders:
                sender.join(timeout=30)
        after = served.worker_pids()[len(before) :]
        assert set(after).isdisjoint(before) and len(after) == len(before)
        while any(_alive(pid) for pid in before):  # poll until the old workers are gone
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.1)
    assert Counter(statuses) == {200: len(statuses)}
