"""Redis (the shared rate-limit store) unreachable: the documented choice (README
"Redis unreachable", issue 13) holds. Per-IP rate limits degrade to per-process memory
(still enforced, never a 500: RECIPES.md section 7), account lockouts stay in the
database (SECURITY.md A-01, ASVS 6.3.5 / 2.2.1), and the outage is logged once, not per
request. Against a real redis-server of the test's own that it stops and starts again."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import time_machine

from idp.extensions import limiter
from tests.factories import PASSWORD, csrf_token, make_user
from tests.served import free_port

OUTAGE = "rate-limit store (IDP_REDIS_URL) unreachable"
RECOVERED = "rate-limit store (IDP_REDIS_URL) answers again"


class PrivateRedis:
    """A redis-server on a free port, nothing on disk, that a test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        import redis

        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:  # poll until it answers (not a timing assertion)
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                assert self.proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.client.connection_pool.disconnect()


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server") and not Path("/usr/bin/redis-server").exists():
        pytest.fail("redis-server is not installed (./dev installs Debian's redis-server)")
    store = PrivateRedis(tmp_path)
    store.start()
    try:
        yield store
    finally:
        store.stop()
        # The limiter object is one per process and outlives this test's app: the next
        # test's app (memory storage) must not start in "store is down" mode.
        limiter._storage_dead = False


WRONG = "wrong password!"  # noqa: S105 - a test's wrong guess


def _sign_in(app, password: str = WRONG) -> int:
    c = app.test_client()
    token = csrf_token(c.get("/login").get_data(as_text=True))
    return c.post(
        "/login", data={"username": "alice", "password": password, "csrf_token": token}
    ).status_code


def _outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "idp.ratelimit"]


def test_redis_down_rate_limits_degrade_to_memory_logged_once_issue13(
    app_factory, db, private_redis, caplog
):
    """With Redis killed, the login limit still answers 429 past its count (now per
    process), no request fails with a 500, and one warning says so however many
    requests follow; when Redis answers again, one line says that and counting goes
    back to Redis."""
    make_user(db)
    app = app_factory(redis_url=private_redis.url, login_rate_limit="3 per minute")
    caplog.set_level(logging.INFO)
    assert _sign_in(app) == 200
    assert private_redis.client.keys("*idp*"), "the first attempt was counted in Redis"

    private_redis.stop()
    codes = [_sign_in(app) for _ in range(5)]
    # The memory store starts empty: three more attempts, then the limit.
    assert codes == [200, 200, 200, 429, 429]
    assert _outage_lines(caplog) == [
        "rate-limit store (IDP_REDIS_URL) unreachable: per-IP rate limits now count per "
        "worker process in memory until it answers again; account lockouts are in the "
        "database and unaffected"
    ]

    private_redis.start()  # empty again, on the same port
    # Flask-Limiter looks at the store again after a back-off (up to a minute).
    with time_machine.travel(time.time() + 120, tick=False):
        assert _sign_in(app) == 200
    assert _outage_lines(caplog)[1:] == [
        "rate-limit store (IDP_REDIS_URL) answers again: rate limits shared"
    ]
    assert private_redis.client.keys("*idp*"), "counting went back to Redis"


def test_redis_down_lockout_still_counts_in_database_A01_issue13(app_factory, db, private_redis):
    """Lockouts never depend on Redis: with it down, five wrong passwords still lock the
    account and the right one is then refused (the lockout's page, not a sign-in)."""
    make_user(db)
    app = app_factory(redis_url=private_redis.url, login_rate_limit="100 per minute")
    private_redis.stop()
    assert [_sign_in(app) for _ in range(5)] == [200] * 5
    c = app.test_client()
    c.set_cookie("idp_lang", "en", domain="localhost")
    token = csrf_token(c.get("/login").get_data(as_text=True))
    locked = c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 200
    assert b"is paused for a few minutes" in locked.data
