"""The published documents (discovery, JWKS) answered from memory, in front of Flask.

Relying parties fetch the discovery document and the JWKS far more often than they
change: discovery never changes while the process runs, the JWKS when a key is
rotated. Flask answers each such GET in about 0.35 ms, nearly all of it request
machinery (context, hooks, header objects); the bytes were already cached. This WSGI
middleware keeps the last 200 response Flask gave for each document path (status,
headers, body) and answers a plain ``GET`` of that path by replaying it, with the
request's own ``X-Request-ID``, metric and log line (idp.ops.request_log), issue 12.

What is replayed is exactly what Flask answered, security headers included, so the two
cannot drift apart. A request is replayed only when nothing in it could change the
answer: ``GET`` with no query string (``?lang=`` sets a cookie), no body, no
``If-None-Match`` (Flask decides the 304). Anything else, and the first request after a
key-ring recheck is due, goes to Flask, which re-reads what it must; so a rotated key is
published exactly as soon as before (within ``keys.RECHECK_SECONDS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from idp.oidc.keys import KeyCache, KeyRing
from idp.ops import request_log

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

# path -> (Flask endpoint, route rule) of the document, for the metric and the log line
DOCUMENTS = {
    "/.well-known/openid-configuration": (
        "oidc.openid_configuration",
        "/.well-known/openid-configuration",
    ),
    "/.well-known/oauth-authorization-server": (
        "oidc.oauth_metadata",
        "/.well-known/oauth-authorization-server",
    ),
    "/jwks.json": ("oidc.jwks", "/jwks.json"),
}
KEYED = frozenset({"/jwks.json"})  # answers that depend on the key ring


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]  # without X-Request-ID
    body: bytes
    ring: KeyRing | None  # the key ring it was made from (JWKS), else None


class DocumentReplay:
    def __init__(self, app: WSGIApp, keys: KeyCache) -> None:
        self.app = app
        self.keys = keys
        self.answers: dict[str, Answer] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in DOCUMENTS or not _replayable(environ):
            return self.app(environ, start_response)
        answer = self.answers.get(path)
        if answer is not None and (path not in KEYED or answer.ring is self.keys.fresh_ring()):
            return self._replay(path, answer, environ, start_response)
        return self._remember(path, environ, start_response)

    def _replay(
        self, path: str, answer: Answer, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_log.request_id_of(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            answer.status, [*answer.headers, (request_log.REQUEST_ID_HEADER, request_id)]
        )
        endpoint, route = DOCUMENTS[path]
        status = int(answer.status[:3])
        request_log.log_replayed(request_id, "GET", route, endpoint, status, started)
        return [answer.body]

    def _remember(self, path: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Let Flask answer, and keep a 200 answer for the next requests."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if seen.get("status", "").startswith("200"):
            headers = [
                (k, v)
                for k, v in seen["headers"]
                if k.lower() != request_log.REQUEST_ID_HEADER.lower()
            ]
            ring = self.keys.fresh_ring() if path in KEYED else None
            if path not in KEYED or ring is not None:
                self.answers[path] = Answer(seen["status"], headers, body, ring)
        return [body]


def _replayable(environ: dict) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not environ.get("QUERY_STRING")
        and not environ.get("HTTP_IF_NONE_MATCH")
        and environ.get("CONTENT_LENGTH", "0") in ("", "0")
        and "HTTP_TRANSFER_ENCODING" not in environ
    )
