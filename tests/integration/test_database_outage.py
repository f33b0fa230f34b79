"""The database goes away under traffic and comes back (SECURITY.md D-02, issue 13
"PostgreSQL unreachable"): a private PostgreSQL that this test starts and stops, and the
real server (`idp serve`) on it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import USE_PG
from tests.served import free_port, idp_serve

pytestmark = pytest.mark.skipif(
    USE_PG,
    reason="brings its own PostgreSQL (and stops it): one pass is enough, the SQLite one",
)

# What must never reach a client in an error body (D-02 / D-04).
LEAKS = ("Traceback", "psycopg", "sqlalchemy", "SELECT", "postgres", ".py", "OperationalError")
# A bound on every request: a worker that hangs on the missing database fails the test.
REQUEST_TIMEOUT = 30


@dataclass
class PrivatePostgres:
    data: Path
    port: int
    run_as: list[str]  # runuser prefix when root (PostgreSQL refuses to run as root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        bindir = Path(PG_BINDIR)
        subprocess.run(
            [*self.run_as, str(bindir / "pg_ctl"), "-D", str(self.data), "-w", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        self.ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")


PG_BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
PG_BINDIR = PG_BINDIRS[-1] if PG_BINDIRS else ""


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of our own (initdb in a temporary directory, a free port,
    trust on loopback), never the machine's cluster that other tests and people use."""
    if not PG_BINDIR:
        pytest.skip("PostgreSQL server binaries are not installed (Debian: postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="idp-outage-pg-"))
    data = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    subprocess.run(
        [*run_as, f"{PG_BINDIR}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    pg = PrivatePostgres(data, free_port(), run_as)
    pg.start()
    try:
        yield pg
    finally:
        subprocess.run(
            [*run_as, f"{PG_BINDIR}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def assert_unavailable(resp: requests.Response, api: bool) -> None:
    assert resp.status_code == 503, resp.text[:300]
    assert int(resp.headers["Retry-After"]) > 0
    for leak in LEAKS:
        assert leak.lower() not in resp.text.lower(), (leak, resp.text[:300])
    if api:
        assert resp.json()["error"] == "temporarily_unavailable"
    else:
        assert resp.headers["Content-Type"].startswith("text/html")


def test_database_outage_answers_503_and_recovers_without_restart_D02(private_postgres, tmp_path):
    """SECURITY.md D-02: stop the database mid-traffic -> every request that needs it
    answers 503 with Retry-After and a generic body (HTML for people, in their language;
    an OAuth error for API callers), never a 500 and never a hanging worker; start it
    again -> the same server processes serve 200 again."""
    pg = private_postgres
    env = {**os.environ, "IDP_DATABASE_URL": pg.url}
    subprocess.run(
        [sys.executable, "-m", "idp.cli", "init"], env=env, check=True, capture_output=True
    )
    with idp_serve(pg.url, tmp_path / "serve.log", workers=2) as served:
        base = served.base
        person = requests.Session()
        assert person.get(f"{base}/login", timeout=REQUEST_TIMEOUT).status_code == 200
        assert person.cookies, "the login page starts a server-side session"
        userinfo = {"Authorization": "Bearer not-a-token"}
        assert requests.get(f"{base}/userinfo", headers=userinfo, timeout=10).status_code == 401

        statuses: list[int] = []
        stop_traffic = threading.Event()

        def traffic() -> None:
            while not stop_traffic.is_set():
                for path, headers in (("/userinfo", userinfo), ("/login", {})):
                    r = requests.get(base + path, headers=headers, timeout=REQUEST_TIMEOUT)
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        assert_unavailable(r, api=path == "/userinfo")

        driver = threading.Thread(target=traffic)
        driver.start()
        try:
            while len(statuses) < 20:  # traffic is flowing before the database stops
                assert driver.is_alive()
                time.sleep(0.05)
            pg.stop()
            seen = len(statuses)
            while len(statuses) < seen + 20:  # and goes on while it is away
                assert driver.is_alive()
                time.sleep(0.05)
        finally:
            stop_traffic.set()
            driver.join(timeout=2 * REQUEST_TIMEOUT)
        assert not driver.is_alive()
        assert set(statuses) <= {200, 401, 503}, statuses
        assert 503 in statuses

        # With the database away: the API, a new visitor, a signed-in browser (whose
        # session cannot be read), in Thai and in English.
        assert_unavailable(
            requests.get(f"{base}/userinfo", headers=userinfo, timeout=REQUEST_TIMEOUT), api=True
        )
        token = requests.post(
            f"{base}/token",
            data={"grant_type": "client_credentials"},
            auth=("some-client", "some-secret"),
            timeout=REQUEST_TIMEOUT,
        )
        assert_unavailable(token, api=True)
        thai = requests.get(f"{base}/login?lang=th", timeout=REQUEST_TIMEOUT)
        assert_unavailable(thai, api=False)
        assert "ระบบ" in thai.text
        english = person.get(f"{base}/login?lang=en", timeout=REQUEST_TIMEOUT)
        assert_unavailable(english, api=False)
        assert "temporarily unavailable" in english.text

        pg.start()
        deadline = time.monotonic() + 60
        while True:  # each worker reconnects by itself (not a timing assertion)
            resp = requests.get(f"{base}/login", timeout=REQUEST_TIMEOUT)
            if resp.status_code == 200:
                break
            assert resp.status_code == 503, resp.status_code
            assert time.monotonic() < deadline, "idp did not recover after the database"
            time.sleep(0.2)
        # Every worker is back: a run of requests without a single 503 or 500.
        codes = [
            requests.get(f"{base}/userinfo", headers=userinfo, timeout=REQUEST_TIMEOUT).status_code
            for _ in range(10)
        ]
        assert codes == [401] * 10, codes
        assert served.process.poll() is None, "the server was not restarted"
