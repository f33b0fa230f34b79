"""Prometheus metrics (prometheus_client), never public by default (SECURITY.md X-07).

Under a server with several worker processes, ``idp serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the workers start; each worker
then writes its values there and a scrape adds them up (prometheus_client's
multiprocess mode). Without it a plain in-process registry is used.

Served at ``/metrics`` to the addresses of ``IDP_METRICS_ALLOW`` (loopback by default;
anyone else gets the ordinary 404) and, when ``IDP_METRICS_PORT`` is set, on that port
of ``IDP_METRICS_BIND``. Labels are bounded: Flask endpoint names, not paths; known
methods, grant types, factors and outcomes only.

Other modules count through the helpers here (``sign_in``, ``step_up``...), and
``mail_failures.inc()`` is there for the mail module.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from flask import Flask
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from idp.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger("idp.ops.metrics")

http_requests = Counter(
    "idp_http_requests",
    "HTTP requests answered, by Flask endpoint, method and status",
    ["endpoint", "method", "status"],
)
http_latency = Histogram(
    "idp_http_request_duration_seconds",
    "Time from the request reaching the app to its response, by Flask endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
sign_ins = Counter(
    "idp_sign_ins",
    "Sign-in factor checks, by factor (password, totp, email, recovery, webauthn...) "
    "and outcome (success, failure, refused: locked or paused)",
    ["factor", "outcome"],
)
lockouts = Counter(
    "idp_lockouts",
    "Locks started, by counter (account, or the typed identifier)",
    ["counter"],
)
step_ups = Counter(
    "idp_step_ups",
    "Second factors proven in a step-up, by factor",
    ["factor"],
)
tokens_issued = Counter(
    "idp_tokens_issued",
    "Successful token responses, by grant type",
    ["grant_type"],
)
refresh_reuse = Counter(
    "idp_refresh_reuse_detected",
    "Refresh tokens presented again after rotation (the grant is revoked, RFC 9700 4.14.2)",
)
mail_failures = Counter("idp_mail_failures", "Mails the SMTP server did not accept")
backchannel_deliveries = Counter(
    "idp_backchannel_logout_deliveries",
    "Back-channel logout tokens delivered or given up, by outcome (delivered, gave_up)",
    ["outcome"],
)
db_pool_in_use = Gauge(
    "idp_db_pool_checked_out",
    "Database connections checked out of this worker's pool (summed over live workers)",
    multiprocess_mode="livesum",
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
FACTORS = frozenset({"password", "totp", "email", "recovery", "webauthn", "webauthn_uv"})
SIGN_IN_OUTCOMES = frozenset({"success", "failure", "refused"})


def _bounded(value: str | None, known: frozenset[str]) -> str:
    return value if value in known else "other"


def sign_in(factor: str, outcome: str) -> None:
    sign_ins.labels(_bounded(factor, FACTORS), _bounded(outcome, SIGN_IN_OUTCOMES)).inc()


def step_up(factor: str) -> None:
    step_ups.labels(_bounded(factor, FACTORS)).inc()


def lock_started(counter: str) -> None:
    lockouts.labels(counter).inc()


def token_issued(grant_type: str | None) -> None:
    tokens_issued.labels(_bounded(grant_type, GRANT_TYPES)).inc()


def request_done(endpoint: str, method: str, status: int, seconds: float) -> None:
    http_requests.labels(endpoint, _bounded(method, METHODS), str(status)).inc()
    http_latency.labels(endpoint).observe(seconds)


def count_audit_event(tag: str) -> None:
    """The audit hook (idp.audit.record): events that are also operating figures."""
    outcome = _BACKCHANNEL_TAGS.get(tag)
    if outcome is not None:
        backchannel_deliveries.labels(outcome).inc()


_BACKCHANNEL_TAGS = {
    "oidc:backchannel:delivered": "delivered",
    "oidc:backchannel:gave_up": "gave_up",
}


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that are gone (a killed or recycled worker would
    otherwise count its connections for ever); server-agnostic, unlike a gunicorn
    ``child_exit`` hook."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = os.path.basename(path).rsplit("_", 1)[-1].removesuffix(".db")
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition() -> bytes:
    """The text exposition of every worker's metrics (or this process's)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def pool_checked_out(app: Flask) -> int:
    from idp.db import get_db

    pool: Any = get_db(app).engine.pool
    checkedout = getattr(pool, "checkedout", None)
    return checkedout() if callable(checkedout) else 0


def install(app: Flask, settings: Settings) -> None:
    @app.teardown_appcontext
    def _pool_gauge(_exc: BaseException | None) -> None:
        # In multiprocess mode a scrape cannot ask the other workers, so each one
        # leaves its figure after every request (this request's connection included:
        # Flask runs this before idp.db's teardown returns it).
        db_pool_in_use.set(pool_checked_out(app))

    if settings.metrics_port and not is_multiprocess():
        # One process (the development server, a single worker): serve the port from
        # here. Several workers: `idp serve` runs one exporter for all of them.
        serve_port(settings.metrics_bind, settings.metrics_port)


_served_ports: set[tuple[str, int]] = set()


def serve_port(bind: str, port: int) -> None:
    """prometheus_client's exporter thread on ``bind:port``, once per process."""
    from prometheus_client import start_http_server

    if (bind, port) in _served_ports:
        return
    try:
        start_http_server(port, addr=bind)
    except OSError as exc:
        # Another process has the port (a second worker of a server started without
        # `idp serve`): serve the app, not the figures, and say why.
        log.warning(
            "metrics port %s:%d not served (%s); several workers need "
            "PROMETHEUS_MULTIPROC_DIR, as `idp serve` sets it",
            bind,
            port,
            type(exc).__name__,
        )
        return
    _served_ports.add((bind, port))
