"""Read-only protocol requests (userinfo, introspection) without a transaction.

On PostgreSQL every request otherwise pays a ``BEGIN`` before its first query and a
``ROLLBACK`` or ``COMMIT`` after its last: two round trips of four for userinfo. A
request that only reads gains nothing from them (each statement sees committed data
either way), so its pooled psycopg connection is switched to autocommit for the
request (a client-side flag, no round trip) and switched back when the pool takes it
back, before any other request can check it out. SQLite already reads without a
transaction. SQLAlchemy's own isolation-level switch is not used: resetting it on
check-in queries the server.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

MARK = "idp_read_only"


def read_without_transaction(db: Session) -> None:
    """Must come before the request's first query (psycopg refuses the switch inside
    a transaction, and then nothing changes)."""
    fairy = db.connection().connection
    dbapi = fairy.dbapi_connection
    if dbapi is None or not hasattr(dbapi, "pgconn") or dbapi.autocommit:
        return
    if dbapi.info.transaction_status != 0:  # not idle: a query already ran
        return
    fairy.info[MARK] = True
    dbapi.autocommit = True


@event.listens_for(Pool, "checkin")
def _restore(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(MARK, False) and dbapi_connection is not None:
        try:
            dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001 - a broken connection: never back into the pool
            # An exception here would make the pool skip the check-in and lose the slot
            # for good; invalidated, the pool replaces it with a fresh connection.
            record.invalidate()
