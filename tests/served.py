"""The real server: ``idp serve`` (granian or gunicorn, several worker processes) on a database of
the test run, for the behaviours the Flask test client cannot show (HTTP headers written
by the server, requests racing in separate processes)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    issuer: str  # http://localhost:PORT
    log: Path  # the server's output (main process, workers, access log)
    process: subprocess.Popen  # the server's main process

    def output(self) -> str:
        return self.log.read_text()

    def worker_pids(self) -> list[int]:
        """Every worker process the server has started so far, oldest first."""
        pattern = r"(?:Spawning worker-\d+ with PID|Booting worker with pid): (\d+)"
        return [int(pid) for pid in re.findall(pattern, self.output())]


# The line each server prints once per worker that is ready.
WORKER_READY = {"granian": "Started worker-", "gunicorn": "Booting worker"}


@contextmanager
def idp_serve(
    database_url: str, log: Path, workers: int = 2, server: str | None = None
) -> Iterator[Served]:
    """Run ``idp serve --workers N --server S`` on ``database_url`` until the block ends.

    ``server`` None runs the default one. Returns once discovery answers and the
    server has started all ``workers``; output
    goes to ``log`` (a file, not a pipe: a pipe nobody reads would block the server).
    """
    port = free_port()
    issuer = f"http://localhost:{port}"
    env = {**os.environ, "IDP_DATABASE_URL": database_url, "IDP_ISSUER": issuer}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "idp.cli", "serve", "--port", str(port)]
            + ["--workers", str(workers), "--access-log"]
            + (["--server", server] if server else []),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = Served(f"http://127.0.0.1:{port}", issuer, log, proc)
    try:
        deadline = time.monotonic() + 90
        while True:  # poll until the server answers (not a timing assertion)
            try:
                requests.get(f"{served.base}/.well-known/openid-configuration", timeout=10)
                if served.output().count(WORKER_READY[server or "granian"]) >= workers:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert proc.poll() is None, served.output()
            assert time.monotonic() < deadline, "idp serve did not start:\n" + served.output()
            time.sleep(0.2)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=30)
