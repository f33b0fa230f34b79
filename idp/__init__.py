"""idp: an OpenID Connect identity provider for e-service portals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.config import Settings, load_settings

PACKAGE_DIR = Path(__file__).parent


def create_app(overrides: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the IdP. ``overrides`` replace settings read from ``IDP_*`` variables."""
    from idp import web
    from idp.account.sessions import DatabaseSessionInterface
    from idp.db import Database
    from idp.extensions import babel, csrf, limiter, login_manager, select_locale
    from idp.oidc.keys import KeyCache
    from idp.oidc.server import create_server

    settings = settings or load_settings(overrides=overrides)
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAX_FORM_PARTS=200,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_CSRF_SSL_STRICT=settings.is_https,
        BABEL_TRANSLATION_DIRECTORIES=str(PACKAGE_DIR / "translations"),
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        # A Redis that stops answering (a dead host, not a refused port) must not hold a
        # limited request for the kernel's TCP timeout: after 1 s the limiter falls back
        # to memory (README "Redis unreachable").
        RATELIMIT_STORAGE_OPTIONS=(
            {"socket_connect_timeout": 1, "socket_timeout": 1} if settings.redis_url else {}
        ),
        RATELIMIT_ENABLED=True,
        TEMPLATES_AUTO_RELOAD=False,
        **settings.extra,
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    if settings.issuer.startswith("http://"):
        # Authlib refuses plain-http request URLs unless this is set; config validation
        # already confines http issuers to development or localhost.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

    app.extensions["idp_settings"] = settings
    db = Database(settings.database_url)
    db.init_app(app)
    from idp import mail_outbox

    mail_outbox.init_app(app)  # issue 13: a mail queued by a request is never lost
    app.extensions["idp_keys"] = KeyCache()
    app.session_interface = DatabaseSessionInterface(
        settings.session_idle_ttl, settings.session_absolute_ttl, settings.is_https
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    # Flask-Limiter also checks every request in before_request; only decorated views
    # are limited here and their wrappers check themselves, so drop the global hook
    # (about 0.1 ms on every discovery/token/userinfo call).
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    login_manager.init_app(app)
    from flask_bootstrap import Bootstrap5

    # Only Bootstrap's files, served from this origin (CSP 'self'); no CDN, no macros.
    app.config["BOOTSTRAP_SERVE_LOCAL"] = True
    Bootstrap5(app)
    app.extensions["idp_oauth_server"] = create_server(app)

    from idp.account import (
        data_rights_views,  # noqa: F401 - routes on the account blueprint
        email_page,  # noqa: F401 - routes on the account blueprint
        password_views,  # noqa: F401 - routes on the account blueprint (issue 11)
        recovery_views,  # noqa: F401 - forgot password (issue 11)
        service_request_pages,  # noqa: F401 - routes; registers the review decider
        session_views,  # noqa: F401 - routes on the account blueprint (issue 11)
        verify_page,  # noqa: F401 - routes on the account blueprint
    )
    from idp.account.views import bp as account_bp
    from idp.mfa.messages import revoke_reason_labels, security_messages
    from idp.mfa.security_page import bp as security_bp
    from idp.mfa.views import bp as mfa_bp
    from idp.mfa.webauthn_views import bp as webauthn_bp
    from idp.oidc import (  # noqa: F401 - routes
        authorization,
        consent,
        discovery,
        endpoints,
        logout,
        membership_pages,
    )
    from idp.oidc.blueprint import bp as oidc_bp

    for exempt in (
        endpoints.token,
        endpoints.userinfo,
        endpoints.introspect,
        endpoints.revoke,
        authorization.authorize,
        logout.end_session,
    ):
        csrf.exempt(exempt)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(security_bp)
    app.register_blueprint(mfa_bp)
    app.register_blueprint(webauthn_bp)
    from idp.orgs.views import bp as orgs_bp

    app.register_blueprint(orgs_bp)
    from idp.orgs import profile  # noqa: F401 - routes on the console blueprint
    from idp.orgs.console import bp as console_bp

    app.register_blueprint(console_bp)
    from idp.admin import (  # noqa: F401 - routes on the operator blueprint
        audit_pages,
        client_pages,
        closure_pages,
        factor_pages,
        org_pages,
        password_pages,  # issue 11: require a password change
        people,
        person_sessions,  # issue 11: "End all sessions"
        reset_code_pages,  # noqa: F401 - operator sends a reset code
        review_pages,
    )
    from idp.admin.views import bp as admin_bp

    app.register_blueprint(admin_bp)
    # Company registration; importing its services registers its review decisions.
    from idp.companies.views import bp as companies_bp

    app.register_blueprint(companies_bp)
    from idp.enrollment.identity_app_views import bp as proofing_bp

    app.register_blueprint(proofing_bp)
    from idp.enrollment import (  # noqa: F401 - wizard routes
        details_views,
        step_views,
        waiting_views,
    )
    from idp.enrollment.views import bp as enrollment_bp

    app.register_blueprint(enrollment_bp)
    from idp.enrollment.staff_pages import bp as staff_bp  # also registers the review effects

    app.register_blueprint(staff_bp)
    if settings.dev_outbox:
        from idp.dev.outbox import bp as dev_bp

        app.register_blueprint(dev_bp)
    web.install(app, settings)
    # Issue 13: /healthz, /readyz, /metrics, the request id and one log line a request.
    from idp import ops

    ops.install(app, settings)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["security_messages"] = security_messages
    app.jinja_env.globals["factor_reason_labels"] = revoke_reason_labels
    app.jinja_env.filters["datetime"] = web.format_epoch
    app.jinja_env.filters["date"] = web.format_epoch_date
    app.jinja_env.globals["timezone_label"] = web.timezone_label
    from idp import template_helpers

    template_helpers.install(app)
    from idp.orgs.messages import address_labels, contact_labels

    app.jinja_env.globals["contact_labels"] = contact_labels
    app.jinja_env.globals["address_labels"] = address_labels
    from idp.branding import Brand

    app.jinja_env.globals["brand"] = Brand(settings)
    from idp.oidc.documents import DocumentReplay
    from idp.oidc.lanes import IntrospectionLane, UserinfoLane

    # Issue 12: discovery and the JWKS answered from memory, the common UserInfo and
    # introspection requests with the endpoints' parts, all outside Flask's machinery.
    replay = DocumentReplay(app.wsgi_app, app.extensions["idp_keys"])
    app.wsgi_app = IntrospectionLane(UserinfoLane(replay, app), app)  # type: ignore[method-assign]
    return app
