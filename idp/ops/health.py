"""Readiness (``/readyz``, idp.ops.views): the database answers, its schema is at the
newest migration this code ships, and Redis answers when it is configured. Why not is
logged here; the probe itself only names the dependency (SECURITY.md X-07)."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import text

from idp.config import Settings
from idp.db import get_db

log = logging.getLogger("idp.ops.health")

# The probe's own limits: a load balancer polls every few seconds, and a probe that
# hangs on a dead Redis would hold a worker.
REDIS_TIMEOUT_SECONDS = 1.0


def head_revision() -> str:
    """The newest Alembic revision this code ships, read once (the scripts do not
    change while the process runs)."""
    cached = current_app.extensions.get("idp_head_revision")
    if cached is None:
        from alembic.script import ScriptDirectory

        from idp.schema import alembic_config

        script = ScriptDirectory.from_config(alembic_config("sqlite://"))
        cached = current_app.extensions["idp_head_revision"] = script.get_current_head()
    return cached


def _database_state() -> str | None:
    """None when ready, else ``"database"`` (unreachable) or ``"migrations"``."""
    try:
        with get_db().engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # any driver error: not ready; the detail goes to the log
        log.warning("readiness: database not usable: %s", type(exc).__name__)
        return "database"
    if current != head_revision():
        log.warning("readiness: schema at %s, code expects %s", current, head_revision())
        return "migrations"
    return None


def _redis_client(url: str) -> Any:
    client = current_app.extensions.get("idp_ready_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        current_app.extensions["idp_ready_redis"] = client
    return client


def _redis_state(url: str) -> str | None:
    if not url:
        return None
    try:
        _redis_client(url).ping()
    except Exception as exc:  # redis-py raises several kinds; all mean not ready
        log.warning("readiness: redis not reachable: %s", type(exc).__name__)
        return "redis"
    return None


def failing(settings: Settings) -> list[str]:
    """The dependencies that are not ready (empty: ready)."""
    return [
        name for name in (_database_state(), _redis_state(settings.redis_url)) if name is not None
    ]
