"""UserInfo and introspection answered in front of Flask for their common request
(issue 12).

Nearly every such request has one shape: ``GET /userinfo`` with a bearer token in the
``Authorization`` header, ``POST /introspect`` with a form holding ``token`` and the
client's HTTP Basic credentials, both from servers (no ``Origin``). Flask's request
machinery (request context, the browser hooks, header objects) and Authlib's request
objects cost a third to a half of such a request. These WSGI middlewares answer it with
the endpoints' own parts (the token lookups and answers of ``idp.oidc.server``, the
client cache and its secret check), inside an app context, with the request's
``X-Request-ID``, metric and log line (idp.ops.request_log).

Only a good answer is given here. Anything else goes to Flask unchanged, which then
decides: another method or a query string, an ``Origin`` (CORS headers), a body or
credentials of another shape, a client that does not authenticate, a UserInfo token
that resolves to nothing or lacks ``openid`` (the error answers), and any exception (a
database outage is handed to the view, which raises it again for Flask's 503 handler
rather than try the database twice). The headers are those of the last 200 answer Flask
gave for the endpoint, security headers included, so the two cannot drift apart; until
Flask has answered once, everything goes to Flask.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask

from idp.db import DATABASE_UNAVAILABLE
from idp.oidc.reads import read_connection
from idp.oidc.server import (
    find_token_with_family,
    introspection_answer,
    query_client,
    user_for_access_token,
    userinfo_claims,
)
from idp.oidc.syntax import basic_credentials
from idp.ops import request_log

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
DATABASE_FAILURE = "idp.lanes.database_failure"  # environ key, for the views
# RFC 6750 2.1 b64token, and our tokens' length bound (server.user_for_access_token)
_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]{1,512}=*)", re.IGNORECASE)
_PER_ANSWER = frozenset({"content-length", request_log.REQUEST_ID_HEADER.lower()})
_FORM = "application/x-www-form-urlencoded"
_LARGEST_FORM = 2048  # a token and a hint; anything longer is Flask's to judge
_LENGTH = re.compile(r"[0-9]{1,4}")
# What one answer is: its body and, for the log line, the client and the person.
Answer = tuple[bytes, str | None, str | None]


class Lane:
    """One endpoint's common request, answered outside Flask (see the module)."""

    path: str
    method: str
    endpoint: str  # the Flask endpoint, for the metric and the log line

    def __init__(self, app: WSGIApp, flask_app: Flask) -> None:
        self.app = app
        self.flask_app = flask_app
        self.headers: list[tuple[str, str]] | None = None  # Flask's, learnt from a 200

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") != self.method
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_ORIGIN")
            or "HTTP_TRANSFER_ENCODING" in environ
        ):
            return self.app(environ, start_response)
        if self.headers is None:
            return self._learn(environ, start_response)
        started = time.perf_counter()
        try:
            with self.flask_app.app_context():
                answer = self.answer(environ)
        except DATABASE_UNAVAILABLE as exc:
            environ[DATABASE_FAILURE] = exc
            answer = None
        except Exception as exc:  # noqa: BLE001 - Flask meets it again and answers it
            # A fallback that is not an outage is a bug of ours: seen in the log, with
            # the exception's type only (its text could hold a request value).
            log.warning("%s lane fell back to Flask: %s", self.path, type(exc).__name__)
            answer = None
        if answer is None:
            return self.app(environ, start_response)  # Flask answers, errors included
        body, client_id, sub = answer
        request_id = request_log.request_id_of(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            "200 OK",
            [
                *self.headers,
                ("Content-Length", str(len(body))),
                (request_log.REQUEST_ID_HEADER, request_id),
            ],
        )
        request_log.log_replayed(
            request_id,
            self.method,
            self.path,
            self.endpoint,
            200,
            started,
            client_id=client_id,
            sub=sub,
        )
        return [body]

    def answer(self, environ: dict) -> Answer | None:
        """The 200 answer, or None for Flask to answer (within an app context)."""
        raise NotImplementedError

    def _learn(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Let Flask answer, and keep the headers of a 200 answer."""

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200"):
                self.headers = [(k, v) for k, v in headers if k.lower() not in _PER_ANSWER]
            return start_response(status, headers, exc_info)

        return self.app(environ, capture)


class UserinfoLane(Lane):
    """OIDC Core 5.3: ``GET /userinfo`` with ``Authorization: Bearer``."""

    path, method, endpoint = "/userinfo", "GET", "oidc.userinfo"

    def answer(self, environ: dict) -> Answer | None:
        if environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
            return None
        match = _BEARER.fullmatch(environ.get("HTTP_AUTHORIZATION", ""))
        if match is None:
            return None
        row = user_for_access_token(match.group(1))
        if row is None or "openid" not in row.token_scope.split():
            return None
        return json.dumps(userinfo_claims(row)).encode(), None, row.sub


class IntrospectionLane(Lane):
    """RFC 7662: ``POST /introspect`` with ``token`` (and perhaps ``token_type_hint``,
    which is ignored: RFC 7662 2.1) by a client authenticating with HTTP Basic
    (RFC 6749 2.3.1). The client is the same cached one, checked by the same methods
    as Authlib's ``client_secret_basic`` (constant-time secret comparison)."""

    path, method, endpoint = "/introspect", "POST", "oidc.introspect"

    def answer(self, environ: dict) -> Answer | None:
        form = _small_form(environ)
        if form is None or set(form) - {"token", "token_type_hint"} or not form.get("token"):
            return None
        credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None or not all(credentials):
            return None
        client_id, secret = credentials
        client = query_client(client_id)  # cached: the session only on a miss
        if (
            client is None
            or not client.check_endpoint_auth_method("client_secret_basic", "introspection")
            or not client.check_client_secret(secret)
        ):
            return None  # Flask answers invalid_client
        with read_connection() as connection:  # introspection changes nothing
            token = find_token_with_family(form["token"], connection)
        if token is not None and not token.check_client(client):
            token = None  # another client's token reads as inactive
        body = json.dumps(introspection_answer(token), sort_keys=True).encode()  # as Flask
        return body, client.get_client_id(), None


def _small_form(environ: dict) -> dict[str, str] | None:
    """A short urlencoded body with each name once and no NUL, else None. The body is
    put back for Flask, which may read it next."""
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    declared = environ.get("CONTENT_LENGTH", "")
    if content_type != _FORM or not _LENGTH.fullmatch(declared):  # werkzeug reads "+4" as 0
        return None
    length = int(declared)
    if not 0 < length <= _LARGEST_FORM:
        return None
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        # Blank values kept: "token=x&token=" repeats a name as werkzeug sees it (I-03).
        pairs = parse_qsl(
            raw.decode("ascii"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    if len(form) != len(pairs) or any("\x00" in k or "\x00" in v for k, v in pairs):
        return None
    return form
