"""One log line per request, and the request id (issue 13; SECURITY.md X-07).

Each request gets an id: a sane incoming ``X-Request-ID`` (a proxy's, to follow one
request through both logs) or a new random one, returned in the response's
``X-Request-ID`` and put on every log line written while the request runs.

The line names the route *pattern* (``/mfa/challenge``, never the path with its query
string, which may carry a code), the endpoint, method, status, latency, and the
client_id and the person's ``sub`` when they are known. Nothing else of the request:
no header, cookie, form field or query value.

``IDP_LOG_FORMAT=json`` writes every log line of the process (ours, the libraries',
the server's own where it logs through ``logging``) as one JSON object.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from idp.config import Settings
from idp.ops import metrics

log = logging.getLogger("idp.request")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept when it is short and plain (a UUID, a hex or base64url string);
# anything else (spaces, quotes, newlines, a kilobyte) is replaced, so that the header
# can never forge or break a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# client_id values of ours are short slugs; a longer or stranger one is a typo or an
# attack, logged as "?" rather than copied into the log.
_SANE_CLIENT_ID = re.compile(r"[A-Za-z0-9._:@-]{1,100}")

# Attributes of every LogRecord; the rest of a record's __dict__ came as ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


# The request id of a request answered outside Flask (idp.oidc.documents), for the
# formatters while its line is written.
_outside_flask = threading.local()


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("idp_request_id")
    return getattr(_outside_flask, "request_id", None)


def request_id_of(incoming: str) -> str:
    """The incoming ``X-Request-ID`` if sane, else a new random id."""
    return incoming if _SANE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)


def _request_id() -> str:
    return request_id_of(request.headers.get(REQUEST_ID_HEADER, ""))


def _client_id() -> str | None:
    """The client this request is for, where the request names it: /authorize's query,
    the token endpoint's form or HTTP Basic user name (RFC 6749 2.3.1)."""
    value = request.args.get("client_id")
    if value is None:
        value = _parsed_form().get("client_id")
    if value is None and request.authorization is not None:
        value = request.authorization.parameters.get("username")
    if value is None:
        value = g.get("idp_client_id")  # set by a view that found it another way
    if value is None:
        return None
    return value if _SANE_CLIENT_ID.fullmatch(value) else "?"


def _parsed_form() -> Mapping[str, str]:
    """The form if the view already read it, else nothing: the log line never parses a
    body itself (one too large would raise 413 here, after the response was made)."""
    form = vars(request).get("form")  # werkzeug caches the parsed form on the request
    return form if form is not None else {}


def _sub() -> str | None:
    """The signed-in person's ``sub``, if this request already loaded them (no extra
    query for the log line)."""
    user = g.get("_login_user")  # Flask-Login's cache of current_user
    sub = getattr(user, "sub", None)
    return sub if isinstance(sub, str) else g.get("idp_sub")


def install(app: Flask) -> None:
    def _start() -> None:
        g.idp_request_id = _request_id()
        g.idp_started = time.perf_counter()

    # First of all before_request functions: the id is there for whatever they log.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(resp: Response) -> Response:
        started = g.get("idp_started")
        if started is None:  # a request that failed before its before_request ran
            return resp
        seconds = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        metrics.request_done(endpoint, request.method, resp.status_code, seconds)
        if endpoint == "oidc.token" and resp.status_code == 200:
            metrics.token_issued(_parsed_form().get("grant_type"))
        resp.headers[REQUEST_ID_HEADER] = g.idp_request_id
        route = request.url_rule.rule if request.url_rule is not None else None
        _log_line(request.method, route, endpoint, resp.status_code, seconds, _client_id(), _sub())
        return resp


def log_replayed(
    request_id: str,
    method: str,
    route: str,
    endpoint: str,
    status: int,
    started: float,
    *,
    client_id: str | None = None,
    sub: str | None = None,
) -> None:
    """The metric and the log line of a request answered outside Flask (a replayed
    document: no client and no person; idp.oidc.lanes: the ones it found)."""
    seconds = time.perf_counter() - started
    metrics.request_done(endpoint, method, status, seconds)
    _outside_flask.request_id = request_id
    try:
        _log_line(method, route, endpoint, status, seconds, client_id, sub)
    finally:
        _outside_flask.request_id = None


def _log_line(
    method: str,
    route: str | None,
    endpoint: str,
    status: int,
    seconds: float,
    client_id: str | None,
    sub: str | None,
) -> None:
    log.info(
        "%s %s %s %.1f ms",
        method,
        route or endpoint,
        status,
        seconds * 1000,
        extra={
            "http": {
                "method": method,
                "route": route,
                "endpoint": endpoint,
                "status": status,
                "latency_ms": round(seconds * 1000, 1),
                "client_id": client_id,
                "sub": sub,
            }
        },
    )


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time (UTC, ISO 8601), level, logger, message,
    the request id while a request runs, the fields given as ``extra`` and, for an
    exception, its traceback. Written here rather than taken from python-json-logger:
    thirty lines, and the request id needs Flask anyway."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = current_request_id()
        return f"{line} [request {request_id}]" if request_id else line


_HANDLER_MARK = "_idp_ops_handler"


def configure_logging(settings: Settings) -> None:
    """Send the process's log records to stderr in ``IDP_LOG_FORMAT`` at
    ``IDP_LOG_LEVEL`` (Authlib's at INFO at most). JSON replaces whatever handler an
    earlier app installed; text is installed only where nobody configured logging (a
    test run's capture, or an embedding application's own setup, is left alone)."""
    # Authlib's DEBUG lines include every issued token ("Issue token {...} to ..."):
    # its loggers stay at INFO whatever the level asked (SECURITY.md X-07).
    logging.getLogger("authlib").setLevel(logging.INFO)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]
    if settings.log_format == "text" and len(root.handlers) > len(ours):
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
