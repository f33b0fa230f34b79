"""The WSGI server's own access log (``idp serve --access-log``) without secrets.

A path can carry a secret: ``/register/resume/<token>`` and ``/invite/<token>`` come from
links in mails, ``/proofing/app/t/<tx_id>`` from a QR code. granian and gunicorn write
their access line outside Flask, from the raw path, through ``logging``; this filter
rewrites the path of such a record to the route *pattern* that matched it, the name the
JSON request log uses too (SECURITY.md X-07, issue 13 "never a ... token"). A path that
matches no route is written as ``(unmatched)``: a mistyped link still holds its token.

The query string, which can hold an ``id_token_hint`` or a ``login_hint``, is never in
the line: granian's default format has no ``query_string`` and ``idp serve`` gives
gunicorn a format without it (``GUNICORN_ACCESS_FORMAT``); the filter blanks it anyway,
should an operator's own format ask for it.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect

# gunicorn's atoms: h remote address, t time, m method, U path, H protocol, s status,
# b bytes, M milliseconds. Not %(r)s (the request line, query included) nor %(f)s (the
# Referer, one of our own URLs with its query).
GUNICORN_ACCESS_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

UNMATCHED = "(unmatched)"
# (logger, method atom, path atom, query atoms) of each server's access records
_SERVERS = (
    ("granian.access", "method", "path", ("query_string",)),
    ("gunicorn.access", "m", "U", ("q", "r")),
)


def route_of(url_map: Map, method: str, path: str) -> str:
    """The route pattern ``path`` matches (``/invite/<token>``), else ``(unmatched)``."""
    try:
        rule, _values = url_map.bind("idp").match(path, method=method or "GET", return_rule=True)
    except (HTTPException, RequestRedirect):  # 404, 405, or a redirect to add a slash
        return UNMATCHED
    return rule.rule


class RoutePatternsOnly(logging.Filter):
    def __init__(self, url_map: Map, method_key: str, path_key: str, query_keys: tuple[str, ...]):
        super().__init__()
        self.url_map = url_map
        self.method_key, self.path_key, self.query_keys = method_key, path_key, query_keys

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, MutableMapping) and self.path_key in atoms:
            method = str(atoms.get(self.method_key) or "GET")
            route = route_of(self.url_map, method, str(atoms[self.path_key]))
            # Each record's atoms are its own (the server builds them per request).
            atoms[self.path_key] = route
            for key in self.query_keys:
                if key in atoms:
                    atoms[key] = f"{method} {route}" if key == "r" else ""
        return True


def hide_path_values(url_map: Map) -> None:
    """Install the filter on both servers' access loggers (once per process: a second
    app replaces the first's filter)."""
    for logger_name, method_key, path_key, query_keys in _SERVERS:
        logger = logging.getLogger(logger_name)
        for old in [f for f in logger.filters if isinstance(f, RoutePatternsOnly)]:
            logger.removeFilter(old)
        logger.addFilter(RoutePatternsOnly(url_map, method_key, path_key, query_keys))
