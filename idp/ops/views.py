"""The operating endpoints: ``/healthz``, ``/readyz`` and ``/metrics`` (issue 13).

The probes are unauthenticated and say only ``ok`` or which dependency is not ready,
never versions, host names, revisions or error text (SECURITY.md X-07, D-02): a load
balancer needs the status code; the reason is in the server's log. ``/metrics`` answers
only the addresses of ``IDP_METRICS_ALLOW``; anyone else gets the ordinary 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from idp.ops import health, metrics
from idp.ops.access import is_allowed, parse_networks

bp = Blueprint("ops", __name__)

# A request that came through a proxy ProxyFix was not told about (IDP_TRUSTED_PROXIES
# =0) shows the proxy's address, often loopback: refused rather than publishing the
# metrics to whoever the proxy serves.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/healthz")
def healthz() -> Response:
    """Alive: the process answers. Touches nothing else."""
    return _no_store(jsonify(status="ok"))


@bp.route("/readyz")
def readyz() -> Any:
    """Ready: 200, or 503 with ``Retry-After`` and the names of what is not ready."""
    failing = health.failing(current_app.extensions["idp_settings"])
    if failing:
        resp = jsonify(status="unavailable", failing=failing)
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
        return _no_store(resp)
    return _no_store(jsonify(status="ok"))


@bp.route("/metrics")
def metrics_page() -> Response:
    settings = current_app.extensions["idp_settings"]
    networks = parse_networks(settings.metrics_allow)
    proxied = settings.trusted_proxies == 0 and any(
        h in request.headers for h in FORWARDING_HEADERS
    )
    if not networks or proxied or not is_allowed(request.remote_addr, networks):
        abort(404)
    if not metrics.is_multiprocess():
        metrics.db_pool_in_use.set(metrics.pool_checked_out(current_app))
    return _no_store(Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST))
