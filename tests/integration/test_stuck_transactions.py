"""A host that dies in the middle of a transaction (issue 13 "kill -9 ... of a whole
host"; SECURITY.md D-02): its connection is never closed, so PostgreSQL keeps its locks
until TCP keepalive notices, two hours by default. Our connections ask the server for a
statement timeout (a request stuck behind such a lock answers 503 with Retry-After and
the service goes on once the lock is gone) and an idle-in-transaction timeout (the dead
host's transaction is rolled back and its locks freed)."""

from __future__ import annotations

import time
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import make_url

from idp.db import get_db, make_engine
from tests.conftest import USE_PG
from tests.factories import make_client

pytestmark = pytest.mark.skipif(not USE_PG, reason="PostgreSQL's server-side timeouts")


def _with_options(url: str, options: str) -> str:
    return f"{url}?options={quote(options)}"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_every_connection_carries_the_statement_and_idle_transaction_timeouts_D02(app):
    with get_db(app).engine.connect() as connection:
        shown = [
            connection.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("statement_timeout", "idle_in_transaction_session_timeout")
        ]
    assert shown == ["10s", "1min"]


def test_a_request_behind_a_dead_hosts_lock_answers_503_and_service_resumes_D02(app_factory):
    url = get_db(app_factory()).url
    app = app_factory(database_url=_with_options(url, "-c statement_timeout=300"))
    with get_db(app).factory() as db:
        m2m = make_client(
            db, name="Machine", grant_types=["client_credentials"], redirect_uris=(),
            scopes=["invoice:read"],
        )  # fmt: skip
    client = app.test_client()

    def token():
        return client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "invoice:read"},
            auth=(m2m.client_id, m2m.secret),
        )

    assert token().status_code == 200
    dead_host = psycopg.connect(_libpq(url))
    try:
        dead_host.execute("LOCK TABLE tokens IN SHARE MODE")  # and never commits
        stuck = token()
        assert stuck.status_code == 503
        assert stuck.get_json()["error"] == "temporarily_unavailable"
        assert int(stuck.headers["Retry-After"]) > 0
    finally:
        dead_host.close()  # the lock goes with it
    assert token().status_code == 200


def test_a_dead_hosts_idle_transaction_is_ended_and_its_locks_freed_D02(app):
    url = get_db(app).url
    engine = make_engine(_with_options(url, "-c idle_in_transaction_session_timeout=300"))
    dead_host = engine.connect()
    other = psycopg.connect(_libpq(url))
    try:
        dead_host.exec_driver_sql("LOCK TABLE tokens IN SHARE MODE")  # then goes quiet
        deadline = time.monotonic() + 30
        while True:  # poll until the server has ended the quiet transaction
            try:
                other.execute("LOCK TABLE tokens IN EXCLUSIVE MODE NOWAIT")
                break
            except psycopg.errors.LockNotAvailable:
                other.rollback()
            assert time.monotonic() < deadline, "the dead host's lock was never freed"
            time.sleep(0.1)
    finally:
        other.close()
        dead_host.invalidate()
        engine.dispose()
