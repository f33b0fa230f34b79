"""Flask extensions, created once and init_app'd by the factory."""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_babel import Babel, get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from werkzeug.exceptions import HTTPException

from idp.config import LOCALES
from idp.oidc.keys import KeyCache

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    headers_enabled=True,
    # With Redis down, fall back to per-process memory rather than fail every request.
    in_memory_fallback_enabled=True,
    key_prefix="idp",
)

log = logging.getLogger("idp.ratelimit")


class RateLimitStoreOutageLog(logging.Filter):
    """Says in our words what a Redis outage means, once when it starts and once when it
    ends (Flask-Limiter notices both once per process, not per request). The choice
    (README "Redis unreachable"): rate limits degrade to per-process memory, so each
    worker counts on its own for a while; lockouts are counted in the database and do
    not change."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "storage unreachable" in message:
            log.warning(
                "rate-limit store (IDP_REDIS_URL) unreachable: per-IP rate limits now "
                "count per worker process in memory until it answers again; account "
                "lockouts are in the database and unaffected"
            )
        elif "storage recovered" in message:
            log.warning("rate-limit store (IDP_REDIS_URL) answers again: rate limits shared")
        return True


limiter.logger.addFilter(RateLimitStoreOutageLog())


def keys() -> KeyCache:
    return current_app.extensions["idp_keys"]


def select_locale() -> str:
    """?lang= (the switch) > ui_locales (OIDC) > idp_lang cookie > Accept-Language."""
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        return chosen
    ui_locales = _param("ui_locales") or _flow_ui_locales()
    for tag in (ui_locales or "").split():
        base = tag.split("-")[0].lower()
        if base in LOCALES:
            return base
    cookie = request.cookies.get("idp_lang")
    if cookie in LOCALES:
        return cookie
    return (
        request.accept_languages.best_match(LOCALES)
        or current_app.extensions["idp_settings"].default_locale
    )


def page_locale() -> str:
    """The language of the page being rendered (th | en), as :func:`select_locale`
    decided it."""
    locale = get_locale()
    return locale.language if locale else current_app.extensions["idp_settings"].default_locale


def chosen_locale() -> str | None:
    """The language the person chose with the switch: ``?lang=`` on this request, or
    the ``idp_lang`` cookie the switch sets. None when nobody chose: ``ui_locales`` is
    the relying party's wish and Accept-Language the browser's, not the person's choice,
    so neither is remembered for the person (idp.account.services.remember_locale)."""
    for chosen in (request.args.get("lang"), request.cookies.get("idp_lang")):
        if chosen in LOCALES:
            return chosen
    return None


def _flow_ui_locales() -> str | None:
    from idp.oidc import flows

    flow = flows.load(_param("flow"))
    return flow.ui_locales if flow else None


def _param(name: str) -> str | None:
    """A query or form value; a body that cannot be read (e.g. too large) counts as
    absent, so that its error page still renders."""
    try:
        return request.values.get(name)
    except HTTPException:
        return request.args.get(name)
