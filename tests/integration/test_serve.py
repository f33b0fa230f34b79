"""`idp serve` runs gunicorn with several workers; rate limits can live in Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import fresh_database_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_gunicorn_workers_and_serves_discovery(template_db, tmp_path):
    url = fresh_database_url(template_db, tmp_path)
    port = _free_port()
    env = {**os.environ, "IDP_DATABASE_URL": url, "IDP_ISSUER": f"http://localhost:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # poll until the server answers (not a timing assertion)
            try:
                resp = requests.get(
                    f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=10
                )
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "idp serve did not start"
                time.sleep(0.2)
        assert resp.status_code == 200
        assert resp.json()["issuer"] == f"http://localhost:{port}"
        jwks = requests.get(f"http://127.0.0.1:{port}/jwks.json", timeout=5).json()
        assert len(jwks["keys"]) >= 2
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert out.count("Booting worker") == 2


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_login_throttle_shared_through_redis(app_factory, db):
    """Two app instances (as two gunicorn workers) share one per-IP counter in Redis."""
    import redis

    from tests.factories import csrf_token, make_user

    store = redis.Redis(host="127.0.0.1", port=6379, db=15)
    store.flushdb()
    settings = {"redis_url": "redis://127.0.0.1:6379/15", "login_rate_limit": "2 per minute"}
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
    store.flushdb()
