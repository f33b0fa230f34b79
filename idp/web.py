"""Cross-cutting HTTP behaviour: security headers (SECURITY.md S-06), CORS allow-list
(S-07), the language cookie, and error pages that never show a stack trace (D-04)."""

from __future__ import annotations

import logging
import secrets
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Request,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
)
from flask.globals import request_ctx
from flask.sessions import SessionInterface, SessionMixin
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from idp import dates
from idp.config import Settings
from idp.db import DATABASE_UNAVAILABLE, now

log = logging.getLogger("idp")

API_PATHS = ("/token", "/userinfo", "/introspect", "/revoke", "/jwks.json", "/.well-known/")
CORS_PATHS = ("/token", "/userinfo")
# Werkzeug's MAX_FORM_PARTS bounds multipart bodies only; an urlencoded body of 1 MB
# (MAX_CONTENT_LENGTH) would otherwise be parsed into ~300 000 fields (SECURITY.md I-01).
# Far above any form of ours (the operator's client/scope page is the largest).
MAX_URLENCODED_FIELDS = 1000

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def is_api_request() -> bool:
    return request.path.startswith(API_PATHS)


def has_nul() -> bool:
    """Does the path, the query or the url-encoded form of this request contain a NUL
    character? Multipart bodies are left to their view, which may raise the body limit
    before reading them (the document upload: no text field of it reaches a query)."""
    values = [request.path]
    sources = [request.args]
    if request.mimetype == "application/x-www-form-urlencoded":
        sources.append(request.form)
    for data in sources:
        values += [part for pair in data.items(multi=True) for part in pair]
    return any("\x00" in v for v in values)


class ApiRequestsWithoutSession(SessionInterface):
    """The protocol endpoints (``API_PATHS``) never use the browser session: a request
    to them gets Flask's null session, so a cookie it carries is neither looked up in
    the database nor refreshed, and no session cookie is written (issue 12). Any other
    request goes to the wrapped interface."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(API_PATHS):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        self.inner.save_session(app, session, response)


def install(app: Flask, settings: Settings) -> None:
    _install_brand_routes(app, settings)
    app.session_interface = ApiRequestsWithoutSession(app.session_interface)
    _install_database_outage(app)

    @app.before_request
    def _refuse_nul() -> None:
        # No value of ours contains NUL, and PostgreSQL refuses it in text: such a value
        # would be a 500 at the first query that uses it (SECURITY.md I-03).
        if has_nul():
            abort(400)

    def _form_field_limit() -> None:
        """413 for an urlencoded body with too many fields, before anything (the CSRF
        check included) parses it; the body is already capped by MAX_CONTENT_LENGTH."""
        urlencoded = request.mimetype == "application/x-www-form-urlencoded"
        if urlencoded and request.get_data(cache=True).count(b"&") >= MAX_URLENCODED_FIELDS:
            abort(413)

    app.before_request_funcs.setdefault(None, []).insert(0, _form_field_limit)

    @app.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if settings.is_https:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if resp.mimetype == "text/html" or request.path.startswith(("/authorize", "/login")):
            h["Cache-Control"] = "no-store"
        origin = request.headers.get("Origin")
        if origin and request.path.startswith(CORS_PATHS) and origin in settings.cors_origins:
            h["Access-Control-Allow-Origin"] = origin
            h["Vary"] = "Origin"
        lang = request.args.get("lang")
        if lang in ("th", "en"):
            resp.set_cookie(
                "idp_lang",
                lang,
                max_age=365 * 86400,
                samesite="Lax",
                secure=settings.is_https,
                httponly=True,
            )
        h.pop("Server", None)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        return _page(400, _("The form expired or was sent from another site. Please try again."))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if isinstance(err, InternalServerError) and isinstance(
            err.original_exception, DATABASE_UNAVAILABLE
        ):
            # Raised outside the view (opening or saving the browser session): Flask
            # hands it over as a 500; it is the same outage.
            return database_unavailable(err.original_exception)
        if is_api_request():
            code = "invalid_request" if err.code and err.code < 500 else "server_error"
            resp = jsonify(error=code, error_description=err.name)
            resp.status_code = err.code or 500
            return _no_store(resp)
        messages = {
            404: _("This page does not exist."),
            405: _("This address does not accept that kind of request."),
            413: _("The request is too large."),
            429: _("Too many attempts. Wait a minute and try again."),
        }
        return _page(
            err.code or 500, messages.get(err.code or 500, _("The request could not be processed."))
        )

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        ref = secrets.token_hex(6)
        log.exception("unhandled error, reference %s", ref)
        abandon_request_writes()
        if is_api_request():
            resp = jsonify(error="server_error", error_description=f"reference {ref}")
            resp.status_code = 500
            return _no_store(resp)
        return _page(500, _("Something went wrong on our side. Reference: %(ref)s", ref=ref))


def _no_store(resp: Response) -> Response:
    """An API error says no-store like the endpoints' own errors (RFC 6749 5.1 / 5.2:
    token responses, errors included, are never cached); found by the OpenAPI fuzzing
    (a NUL refused here answered without it)."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


# How long a client should wait before trying again while the database is away: a
# PostgreSQL restart or fail-over takes seconds.
RETRY_AFTER_SECONDS = 5


def _install_database_outage(app: Flask) -> None:
    """SECURITY.md D-02: while the database is unreachable every request answers 503 with
    Retry-After and a generic body, never a stack trace or SQL; the engine
    (idp.db.make_engine) reconnects by itself once it is back."""
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, database_unavailable)


def abandon_request_writes() -> None:
    """A request that failed leaves the database as it was (D-04), mails included: the
    error handlers answer the exception, so the teardown hooks never see it, and the
    mail outbox would otherwise write what the failed request queued."""
    db = current_app.extensions.get("idp_db")
    if db is None or not db.scoped.registry.has():
        return
    try:
        db.scoped().rollback()
    except Exception as err:  # noqa: BLE001 - the database is away: nothing to undo
        log.warning("rollback after a failed request: %s", type(err).__name__)


def database_unavailable(err: Exception) -> Response:
    log.error("database unavailable: %s", type(err).__name__)
    abandon_request_writes()
    # The browser session lives in the database: neither save it nor let the page
    # read it while the database is away.
    null_session = current_app.session_interface.make_null_session(current_app)
    try:
        request_ctx.session = null_session
    except AttributeError:  # Flask >= 3.1 keeps it behind a read-only property
        request_ctx._session = null_session
    if is_api_request():
        resp = jsonify(
            error="temporarily_unavailable",
            error_description="The service is temporarily unavailable; try again later.",
        )
    else:
        message = _("The service is temporarily unavailable. Please try again in a minute.")
        try:
            page = _page(503, message)
            resp = page if isinstance(page, Response) else Response(page[0], mimetype="text/html")
        except DATABASE_UNAVAILABLE:  # a page part that reads the database (?flow=)
            resp = Response(message, mimetype="text/plain")
    resp.status_code = 503
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return resp


def _install_brand_routes(app: Flask, settings: Settings) -> None:
    """The brand's stylesheet and logo, same-origin like everything else (CSP 'self')."""
    from pathlib import Path

    from flask import send_file

    from idp import branding

    css = branding.stylesheet(settings)

    @app.get("/brand.css", endpoint="brand_css")
    def _brand_css() -> Response:
        resp = Response(css, mimetype="text/css")
        resp.cache_control.public = True
        resp.cache_control.max_age = 3600
        return resp

    @app.get("/brand/logo", endpoint="brand_logo")
    def _brand_logo() -> Response:
        if settings.brand_logo:
            # send_file would join a relative path to the package, not the working
            # directory that check_brand looked in.
            path = Path(settings.brand_logo).resolve()
            resp = send_file(path, mimetype=branding.LOGO_TYPES[path.suffix.lower()], max_age=3600)
        else:
            resp = app.send_static_file("logo.svg")
        # An SVG logo opened on its own must not run script (it is an image here).
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        )
        return resp

    # Built-in help, privacy notice and terms: the demo's footer links point here; an
    # agency sets IDP_HELP_URL / IDP_PRIVACY_URL / IDP_TERMS_URL to its own pages.
    for page in ("help", "privacy", "terms"):
        app.add_url_rule(
            f"/{page}",
            endpoint=f"page_{page}",
            view_func=lambda page=page: render_template(f"pages/{page}.html"),
        )

    @app.get("/favicon.ico", endpoint="favicon")
    def _favicon() -> Response:
        return app.send_static_file("favicon.svg")


def _zone_and_locale() -> tuple[ZoneInfo, str]:
    """The deployment's zone and the language being rendered: the page's, or a mail's
    (idp.mail renders under ``flask_babel.force_locale``)."""
    settings = current_app.extensions["idp_settings"]
    locale = get_locale()
    return settings.zone, locale.language if locale else settings.default_locale


def format_epoch(value: int, zone: bool = False) -> str:
    """The ``datetime`` filter: epoch seconds as a date and time in the language being
    rendered and the deployment's zone (IDP_TIMEZONE), Thai with the Buddhist-era year
    (idp/dates.py); ``zone=True`` names the zone, where a reader could not know it."""
    tz, locale = _zone_and_locale()
    text = dates.format_datetime(value, locale, tz)
    return f"{text} ({dates.zone_label(tz, value)})" if zone else text


def format_epoch_date(value: int) -> str:
    """The ``date`` filter: the date alone (e.g. a soft token's expiry day)."""
    tz, locale = _zone_and_locale()
    return dates.format_date(value, locale, tz)


def timezone_label(at: int | None = None) -> str:
    """The ``timezone_label`` global, for table headings: "Asia/Bangkok, UTC+07:00"."""
    tz, _locale = _zone_and_locale()
    return dates.zone_label(tz, now() if at is None else at)


def _page(status: int, message: str):
    if request_ctx.url_adapter is None:
        # A Host werkzeug cannot route (BadHost): the page template needs URLs.
        return Response(message, status, {"Content-Type": "text/plain; charset=utf-8"})
    return render_template(
        "error.html", title=_("Sorry"), message=message, error=None, description=None
    ), status
