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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from idp.db import get_db

MARK = "idp_read_only"


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
