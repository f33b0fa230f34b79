"""Engine and per-request session.

One ``Database`` per app. Views use :func:`session` (a scoped session removed at the
end of each app context); a request that raises is rolled back, so a failure inside
a request leaves the database as it was.

Surviving a database restart (SECURITY.md D-02) without ``pool_pre_ping``, which costs a
``SELECT 1`` round trip (~0.25 ms, a tenth of userinfo) on every request:

- a connection that sat idle in the pool longer than ``IDLE_PING_SECONDS`` is pinged at
  checkout, and replaced when the ping fails (the quiet-hours restart: nobody sees it);
- a connection the restart cut while it was busy fails its statement; SQLAlchemy sees a
  disconnect and invalidates the whole pool of that process, so the next request
  reconnects. That one request (per process, plus those in flight) answers 503 with
  Retry-After (idp.web), which a client retries;
- ``connect_timeout`` and ``tcp_user_timeout`` bound how long a worker waits for a
  database that does not answer, so workers do not hang while it is away.

And surviving a host that dies in the middle of a transaction (issue 13 "kill -9 of a
whole host"): its connection is not closed, so the rows it locked stay locked until the
database notices, by default after two hours of TCP keepalive. Each connection of ours
therefore asks the server for ``statement_timeout`` (a request waiting on such a lock
gives up and answers 503, like any other database failure) and
``idle_in_transaction_session_timeout`` (the dead host's transaction is rolled back and
its locks freed). Both ride in libpq's ``options`` startup parameter; a URL that names
``options`` itself replaces them (``?options=`` for none, e.g. behind PgBouncer, which
refuses the parameter unless told to ignore it). Migrations lift the statement timeout
(:func:`without_statement_timeout`): building an index on a large table takes longer.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def now() -> int:
    """Current time in epoch seconds; every stored time uses this unit."""
    return int(time.time())


# Under steady traffic a pooled connection is reused within milliseconds, so the ping
# runs only after a quiet spell, when it is cheap compared with the wait it prevents.
IDLE_PING_SECONDS = 10
# libpq's settings (overridable in the URL's query, e.g. ?connect_timeout=2): a database
# host that does not answer costs a worker at most this long per attempt.
CONNECT_TIMEOUT_SECONDS = 5
TCP_USER_TIMEOUT_MS = 10_000
# A request waits this long for a free pooled connection before it answers 503.
POOL_TIMEOUT_SECONDS = 10
# No statement of a request takes seconds; one waiting this long waits on a lock.
STATEMENT_TIMEOUT_MS = 10_000
# Longer than any outbound call made inside a transaction (HTTP and SMTP: 10 s at most).
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
SERVER_OPTIONS = (
    f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
)
# What a database that is away (or a pool that is exhausted) raises; idp.web answers 503.
DATABASE_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


def ping_after_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a pooled connection at checkout when it was idle longer than ``idle_seconds``;
    a failed ping makes the pool discard it and connect afresh (SQLAlchemy retries the
    checkout on ``DisconnectionError``)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # any failure means: do not hand this connection out
            raise exc.DisconnectionError("idle connection failed its ping") from err


def without_statement_timeout(connection: Connection) -> None:
    """Lift the statement timeout for the rest of ``connection``'s transaction (schema
    migrations, bulk fills): their statements may rightly run for minutes."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 15, "check_same_thread": False},
            hide_parameters=True,  # logged errors carry no code, address or document
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - driver hook
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the single writer; NORMAL is durable across
            # process crashes (RECIPES.md 9: commit 1.1 ms -> 0.05 ms).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    query = make_url(url).query
    libpq = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "options": SERVER_OPTIONS,
    }
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        hide_parameters=True,  # logged errors carry no code, address or document
        connect_args={k: v for k, v in libpq.items() if k not in query},
    )
    ping_after_idle(engine)
    return engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.factory = sessionmaker(self.engine, expire_on_commit=False)
        self.scoped = scoped_session(self.factory)

    def init_app(self, app: Flask) -> None:
        app.extensions["idp_db"] = self

        @app.teardown_appcontext
        def _remove(exc: BaseException | None) -> None:
            if exc is not None:
                self.scoped.rollback()
            self.scoped.remove()

    def dispose(self) -> None:
        self.scoped.remove()
        self.engine.dispose()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["idp_db"]


def session() -> Session:
    """The current request's SQLAlchemy session."""
    return get_db().scoped()
