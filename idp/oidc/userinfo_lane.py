"""UserInfo (OIDC Core 5.3) answered in front of Flask for the common request (issue 12).

Nearly every UserInfo request is the same shape: ``GET /userinfo`` with a bearer token
in the ``Authorization`` header, from a server (no ``Origin``). Flask's request
machinery (request context, the browser hooks, header objects) cost about a third of
such a request. This WSGI middleware answers it with the view's own parts: the token
lookup (``server.user_for_access_token``) and the claims (``server.userinfo_claims``),
inside an app context, with the request's ``X-Request-ID``, metric and log line
(idp.ops.request_log).

Only a good answer is given here. Anything else goes to Flask unchanged, which then
decides: another method or a query string, a body, an ``Origin`` (CORS headers), no or
an odd bearer token, a token that resolves to nothing or lacks ``openid`` (the error
answers), and any exception (a database outage is handed to the view, which raises it
again for Flask's 503 handler).
The headers are those of the last 200 answer Flask gave for UserInfo, security headers
included, so the two cannot drift apart; until Flask has answered once, everything goes
to Flask.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from idp.db import DATABASE_UNAVAILABLE
from idp.oidc.server import user_for_access_token, userinfo_claims
from idp.ops import request_log

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
PATH = "/userinfo"
ENDPOINT = "oidc.userinfo"
# RFC 6750 2.1 b64token, and our tokens' length bound (server.user_for_access_token)
_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]{1,512}=*)", re.IGNORECASE)
DATABASE_FAILURE = "idp.userinfo_lane.database_failure"  # environ key, for the view
_PER_ANSWER = frozenset({"content-length", request_log.REQUEST_ID_HEADER.lower()})


class UserinfoLane:
    def __init__(self, app: WSGIApp, flask_app: Flask) -> None:
        self.app = app
        self.flask_app = flask_app
        self.headers: list[tuple[str, str]] | None = None  # Flask's, learnt from a 200

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or not _plain_get(environ):
            return self.app(environ, start_response)
        match = _BEARER.fullmatch(environ.get("HTTP_AUTHORIZATION", ""))
        if match is None:
            return self.app(environ, start_response)
        if self.headers is None:
            return self._learn(environ, start_response)
        started = time.perf_counter()
        answer = self._answer(match.group(1), environ)
        if answer is None:
            return self.app(environ, start_response)  # Flask answers, errors included
        body, sub = answer
        request_id = request_log.request_id_of(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            "200 OK",
            [
                *self.headers,
                ("Content-Length", str(len(body))),
                (request_log.REQUEST_ID_HEADER, request_id),
            ],
        )
        request_log.log_replayed(request_id, "GET", PATH, ENDPOINT, 200, started, sub=sub)
        return [body]

    def _answer(self, token: str, environ: dict) -> tuple[bytes, str] | None:
        """The 200 answer's body and the person's ``sub``, or None for Flask to answer."""
        try:
            with self.flask_app.app_context():
                row = user_for_access_token(token)
                if row is None or "openid" not in row.token_scope.split():
                    return None
                return json.dumps(userinfo_claims(row)).encode(), row.sub
        except DATABASE_UNAVAILABLE as exc:
            # The view raises it again rather than try the database a second time: the
            # 503 comes from Flask's handler, within one connect timeout (D-02).
            environ[DATABASE_FAILURE] = exc
            return None
        except Exception:  # noqa: BLE001 - Flask meets it again and answers it properly
            return None

    def _learn(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Let Flask answer, and keep the headers of a 200 answer."""

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200"):
                self.headers = [(k, v) for k, v in headers if k.lower() not in _PER_ANSWER]
            return start_response(status, headers, exc_info)

        return self.app(environ, capture)


def _plain_get(environ: dict) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not environ.get("QUERY_STRING")
        and not environ.get("HTTP_ORIGIN")
        and environ.get("CONTENT_LENGTH", "0") in ("", "0")
        and "HTTP_TRANSFER_ENCODING" not in environ
    )
