"""Operating the IdP (issue 13): health probes, Prometheus metrics, request logs."""

from __future__ import annotations

from flask import Flask

from idp.config import Settings


def install(app: Flask, settings: Settings) -> None:
    """Register the probes, /metrics, and the per-request log line and counters."""
    from idp.ops import metrics, request_log, server_log
    from idp.ops.views import bp

    request_log.configure_logging(settings)
    request_log.install(app)
    server_log.hide_path_values(app.url_map)
    metrics.install(app, settings)
    app.register_blueprint(bp)
