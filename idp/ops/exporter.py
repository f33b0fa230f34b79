"""The metrics port of a multi-worker server: one small process, started by
``idp serve`` before the server, that answers every GET with the sum of all workers'
metrics (``PROMETHEUS_MULTIPROC_DIR``) and ends when the server does.

It runs without a port too: then it only removes the metrics directory once the server
is gone (the server replaces ``idp serve`` by exec, so nothing else is left to do it;
one stale directory per start used to stay in /tmp).

Not a worker's thread: with several workers only one could bind the port, and it would
go with that worker.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from idp.ops.metrics import exposition

PARENT_POLL_SECONDS = 1.0


class _Handler(BaseHTTPRequestHandler):
    server_version = "metrics"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


def run(directory: str, bind: str, port: int | None, parent: int) -> None:
    """Serve ``port`` (if any) until the process ``parent`` (the server, which this
    one outlives otherwise) is gone, then remove ``directory``."""
    httpd = ThreadingHTTPServer((bind, port), _Handler) if port else None
    if httpd is not None:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    stop = threading.Event()
    try:
        while not stop.wait(PARENT_POLL_SECONDS):
            if os.getppid() != parent:
                break
    finally:
        if httpd is not None:
            httpd.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


def spawn(directory: str, bind: str, port: int | None) -> int:
    """Fork the exporter off this process (which then becomes the server by exec, so
    it stays the exporter's parent); returns the child's pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            run(directory, bind, port, parent)
        finally:
            os._exit(0)
    return pid


if __name__ == "__main__":  # pragma: no cover - manual use
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]), os.getppid())
