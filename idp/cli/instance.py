"""The instance itself: ``init``, ``serve``, ``demo``, ``jobs run`` and ``keys rotate``."""

from __future__ import annotations

import json
import sys

import click

from idp.cli import _app, _fail, cli, init_instance
from idp.config import ConfigError, load_settings
from idp.ops.server_log import GUNICORN_ACCESS_FORMAT


@cli.command()
def init() -> None:
    """Create or upgrade the schema and create signing keys (idempotent)."""
    app = _app()
    created = init_instance(app)
    click.echo(f"schema up to date; {len(created)} signing key(s) created")


# granian serves the same Flask app with ~2x the requests per CPU-second of gunicorn
# (bench/RESULTS.md, RECIPES.md 13) and is as operable: SIGHUP replaces the workers one
# at a time, a crashed worker is respawned, an access log on request. gunicorn stays
# selectable for sites that rely on its ecosystem (e.g. --forwarded-allow-ips).
SERVERS = ("granian", "gunicorn")


def default_workers() -> int:
    import os

    return min(2 * (os.cpu_count() or 1) + 1, 9)


def server_command(
    server: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
    target: str = "idp.wsgi:app",
) -> list[str]:
    """The argv (after ``python -m``) that runs the WSGI app ``target`` under ``server``
    (bench/ runs its floor apps with the same settings)."""
    if server == "granian":
        args = ["granian", "--interface", "wsgi", "--host", host, "--port", str(port)]
        # Blocking threads per worker: with 4, a worker keeps serving while one request
        # waits for PostgreSQL (userinfo +20-35 % per CPU-second against 1, bench/RESULTS.md).
        args += ["--workers", str(workers), "--blocking-threads", str(threads)]
        # A worker that does not stop (e.g. one signalled while still booting) is killed
        # after this long instead of holding up a shutdown or a reload forever.
        args += ["--respawn-failed-workers", "--workers-kill-timeout", "20", "--no-ws"]
        args += ["--access-log"] if access_log else ["--no-access-log"]
        return [*args, target]
    args = ["gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers)]
    if threads > 1:
        args += ["--worker-class", "gthread", "--threads", str(threads)]
    if access_log:  # a format without the query string (idp.ops.server_log)
        args += ["--access-logfile", "-", "--access-logformat", GUNICORN_ACCESS_FORMAT]
    return [*args, "--forwarded-allow-ips", "127.0.0.1", target]


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="worker processes (default: 2 x CPUs + 1, at most 9)",
)
@click.option(
    "--threads",
    default=4,
    type=click.IntRange(1, 64),
    show_default=True,
    help="threads per worker (gunicorn: more than 1 uses gthread workers)",
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="granian",
    show_default=True,
    help="WSGI server (README: Running it)",
)
@click.option("--access-log", is_flag=True, help="log every request to stdout")
def serve(
    host: str, port: int, workers: int | None, threads: int, server: str, access_log: bool
) -> None:
    """Serve with granian (or gunicorn). SIGHUP reloads the workers one at a time."""
    import os

    try:
        load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    _prepare_metrics()
    args = server_command(server, host, port, workers or default_workers(), threads, access_log)
    # Unbuffered: a forked (respawned) worker would otherwise write its parent's pending
    # log lines a second time, and journald sees lines as they happen.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    os.execvp(sys.executable, [sys.executable, "-m", *args])  # noqa: S606


def _prepare_metrics() -> None:
    """Issue 13: the workers share their metrics through a fresh directory
    (prometheus_client's multiprocess mode, whatever the server), and one exporter
    process serves IDP_METRICS_PORT for all of them (and removes the directory when
    the server is gone). Called just before the server
    starts, so every worker inherits PROMETHEUS_MULTIPROC_DIR."""
    import os
    import tempfile

    from idp.ops import exporter
    from idp.ops.metrics import MULTIPROC_ENV

    directory = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="idp-metrics-")
    settings = load_settings()
    exporter.spawn(directory, settings.metrics_bind, settings.metrics_port or None)


@cli.command()
@click.option("--host", default="localhost", show_default=True)
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
def demo(host: str, port: int) -> None:
    """Run the IdP with demo data and the demo relying parties (Ctrl-C stops)."""
    from idp.demo import run_demo

    run_demo(host, port)


@cli.group()
def jobs() -> None:
    """Scheduled work (run from cron, e.g. hourly)."""


@jobs.command("run")
def jobs_run() -> None:
    """Soft-token reminders (30, 7, 1 days before), temporary memberships: expiry and
    reminders (14, 3 days before), purges of unfinished registrations, spent codes and
    finished proofing transactions, back-channel logout retries. Idempotent; prints
    what it did as JSON."""
    from idp.db import get_db
    from idp.jobs import run_jobs

    app = _app()
    with app.app_context(), get_db(app).factory() as s:  # mails render templates
        click.echo(json.dumps(run_jobs(s, app.extensions["idp_settings"])))


@cli.group()
def keys() -> None:
    """Signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """New signing keys; old public keys stay in JWKS until their tokens expired."""
    from idp.db import get_db
    from idp.oidc.keys import rotate_keys

    app = _app()
    settings = app.extensions["idp_settings"]
    retention = settings.key_retention_seconds or settings.longest_token_lifetime
    with get_db(app).factory() as s:
        new = rotate_keys(s, retention)
        s.commit()
        click.echo(
            json.dumps({"new_kids": [k.kid for k in new], "old_keys_published_for": retention})
        )
