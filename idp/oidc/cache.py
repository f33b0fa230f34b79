"""Per-process caches of clients and signing keys, and what makes them forget.

The token, introspection and revocation endpoints read the client on every request,
the refresh grant and sign-ins the client's declared scopes (``client_scopes``), and
the ID-token grants the parsed signing keys; all change rarely and only through
their front doors (``idp clients add/set``, ``idp keys rotate``, ``idp init``). So each
worker keeps them for at most ``TTL_SECONDS`` (clients) or re-checks the key table's
fingerprint that often (keys): a change made on another worker or host takes effect
everywhere within a second. The accepted cost: a client secret or setting changed by
another process may still be honoured for up to one second on a worker that read it
just before.

Changes made in this process (the CLI run in-process, the operator console, tests) are
seen at once: any ORM flush or ORM-enabled UPDATE/DELETE touching the ``clients`` or
``signing_keys`` table bumps a process-wide generation, and every cache entry older
than the current generation is a miss.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

TTL_SECONDS = 1.0
MAX_ENTRIES = 1000  # bounded: client ids come from requests

WATCHED_TABLES = frozenset({"clients", "client_scopes", "signing_keys"})

_generation = 0
_lock = threading.Lock()


def generation() -> int:
    return _generation


def bump() -> None:
    """Forget every cached client and key ring in this process."""
    global _generation
    with _lock:
        _generation += 1


def _touches_watched(objects: Any) -> bool:
    return any(getattr(o, "__tablename__", None) in WATCHED_TABLES for o in objects)


@event.listens_for(Session, "after_flush")
def _after_flush(db: Session, _flush: UOWTransaction) -> None:
    if _touches_watched(db.new) or _touches_watched(db.dirty) or _touches_watched(db.deleted):
        bump()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED_TABLES:
            bump()


class TTLCache:
    """A small thread-safe map whose entries live ``TTL_SECONDS`` and die with the
    generation they were read in. Misses (unknown keys) are not stored."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, int, Any]] = {}

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        mono = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[1] == _generation and mono - entry[0] < TTL_SECONDS:
            return entry[2]
        gen = _generation
        value = load()
        if value is not None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (mono, gen, value)
        return value
