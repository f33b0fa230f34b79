"""Read-only protocol requests (userinfo, introspection) without a transaction, and
their one statement on a connection of its own, outside the request's ORM session.

On PostgreSQL every request otherwise pays a ``BEGIN`` before its first query and a
``ROLLBACK`` or ``COMMIT`` after its last: two round trips of four for userinfo. A
request that only reads gains nothing from them (each statement sees committed data
either way), so its pooled psycopg connection is switched to autocommit for the
request (a client-side flag, no round trip) and switched back when the pool takes it
back, before any other request can check it out. SQLite already reads without a
transaction. SQLAlchemy's own isolation-level switch is not used: resetting it on
check-in queries the server.

``read_connection`` goes further for a request whose answer is one statement: a Core
connection straight from the pool, without the ORM session's transaction bookkeeping
(a sixth of userinfo's CPU, issue 12). Errors pass through SQLAlchemy as on any
connection, so a database that went away still answers 503 (SECURITY.md D-02).

``first_row`` sends such a statement straight through psycopg on PostgreSQL, compiled
once: SQLAlchemy's execution (context, result metadata, row objects) cost about as
much as psycopg's own work (~130 against ~70 µs a statement). A driver error is not
translated here: the statement runs again through SQLAlchemy, which meets the same
error and translates it (a disconnect invalidates the pool and answers 503, D-02).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Executable, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from idp.db import get_db

MARK = "idp_read_only"
# statement id -> (the statement, kept alive; its SQL for psycopg; its fixed parameters)
_COMPILED: dict[int, tuple[Executable, str, dict[str, Any]]] = {}


def first_row(connection: Connection, statement: Executable, params: dict[str, Any]) -> Any:
    """The first row of a prebuilt read-only ``statement`` (attribute access by column
    label, like a Core row), or None. Direct only in autocommit: an error inside a
    transaction would leave it aborted for the translating second run."""
    raw = connection.connection.dbapi_connection
    if raw is None or not hasattr(raw, "pgconn") or not raw.autocommit:
        return connection.execute(statement, params).first()
    compiled = _COMPILED.get(id(statement))
    if compiled is None:
        done = statement.compile(dialect=connection.dialect)
        compiled = _COMPILED[id(statement)] = (statement, str(done), dict(done.params))
    _, sql, fixed = compiled
    values = {**fixed, **params}
    try:
        with raw.cursor(row_factory=namedtuple_row) as cursor:
            # The engine's statement listeners still see it (SQL logs, tests' counters).
            connection.dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            return cursor.fetchone()
    except psycopg.Error:
        return connection.execute(statement, params).first()  # raises it, translated


def read_without_transaction(db: Session) -> None:
    """The request's own session reads in autocommit (a request whose earlier step, e.g.
    Authlib's client lookup, already uses it: one pooled connection, not two)."""
    _autocommit(db.connection().connection)


def _autocommit(fairy: Any) -> None:
    """Switch a pooled psycopg connection to autocommit until its check-in. Must come
    before its first statement (psycopg refuses the switch inside a transaction, and
    then nothing changes)."""
    dbapi = fairy.dbapi_connection
    if dbapi is None or not hasattr(dbapi, "pgconn") or dbapi.autocommit:
        return
    if dbapi.info.transaction_status != 0:  # not idle: a query already ran
        return
    fairy.info[MARK] = True
    dbapi.autocommit = True


@contextmanager
def read_connection(app: Flask | None = None) -> Iterator[Connection]:
    """A pooled connection for one read-only statement, in autocommit on PostgreSQL;
    back in the pool (and transactional) when the block ends. Also the browser
    session's read (idp.account.sessions)."""
    with get_db(app).engine.connect() as connection:
        _autocommit(connection.connection)
        yield connection


@event.listens_for(Pool, "checkin")
def _restore(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(MARK, False) and dbapi_connection is not None:
        try:
            dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001 - a broken connection: never back into the pool
            # An exception here would make the pool skip the check-in and lose the slot
            # for good; invalidated, the pool replaces it with a fresh connection.
            record.invalidate()
