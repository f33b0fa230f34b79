"""Settings: every ``IDP_*`` environment variable, read once into a frozen object.

Tests pass ``overrides`` to :func:`idp.create_app` instead of touching ``os.environ``.
In production (``IDP_ENV=production``) :func:`check_production` refuses unsafe values.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEV_SECRET_KEY = "dev-secret-key-change-me"  # noqa: S105 - the known dev value we refuse in prod
DEFAULT_SQLITE_URL = "sqlite:///instance/idp.db"
LOCALES = ("th", "en")  # the languages of pages and mails; a person's choice is one of them


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which variable and why."""


@dataclass(frozen=True)
class Settings:
    """Every setting, its environment variable (``IDP_`` + upper-case name) and default."""

    env: str = "development"  # IDP_ENV: development | production | test
    issuer: str = "http://localhost:5000"  # IDP_ISSUER: public base URL, no trailing slash
    database_url: str = DEFAULT_SQLITE_URL  # IDP_DATABASE_URL
    allow_sqlite_in_production: bool = False  # IDP_ALLOW_SQLITE_IN_PRODUCTION
    secret_key: str = DEV_SECRET_KEY  # IDP_SECRET_KEY: signs CSRF tokens
    smtp_url: str = "smtp://127.0.0.1:8025"  # IDP_SMTP_URL
    mail_from: str = "idp@localhost"  # IDP_MAIL_FROM
    # IDP_MAIL_DELIVERY: every mail goes through the outbox (issue 13); background: a
    # thread sends it right after the request commits; inline: the committing thread
    # does (tests; a slow SMTP server then slows the request)
    mail_delivery: str = "background"
    # IDP_MAIL_ATTEMPTS: tries before a queued mail is given up (logged)
    mail_attempts: int = 8
    redis_url: str = ""  # IDP_REDIS_URL: rate-limit storage; memory when empty
    access_token_ttl: int = 600  # IDP_ACCESS_TOKEN_TTL seconds (SECURITY.md 7: <= 10 min)
    id_token_ttl: int = 600  # IDP_ID_TOKEN_TTL seconds
    code_ttl: int = 60  # IDP_CODE_TTL seconds (ASVS 10.4.3: <= 60 s)
    refresh_idle_ttl: int = 14 * 86400  # IDP_REFRESH_IDLE_TTL seconds
    refresh_absolute_ttl: int = 30 * 86400  # IDP_REFRESH_ABSOLUTE_TTL seconds
    session_idle_ttl: int = 3600  # IDP_SESSION_IDLE_TTL seconds
    session_absolute_ttl: int = 86400  # IDP_SESSION_ABSOLUTE_TTL seconds
    lockout_threshold: int = 5  # IDP_LOCKOUT_THRESHOLD consecutive failures
    lockout_seconds: int = 300  # IDP_LOCKOUT_SECONDS
    login_rate_limit: str = "30 per minute"  # IDP_LOGIN_RATE_LIMIT per client IP
    token_rate_limit: str = ""  # IDP_TOKEN_RATE_LIMIT per client IP; empty = none
    signing_alg: str = "RS256"  # IDP_SIGNING_ALG: default ID token alg (RS256 | ES256)
    key_retention_seconds: int = 0  # IDP_KEY_RETENTION_SECONDS; 0 = longest token lifetime
    cors_origins: tuple[str, ...] = ()  # IDP_CORS_ORIGINS comma-separated, for token/userinfo
    trusted_proxies: int = 0  # IDP_TRUSTED_PROXIES: X-Forwarded-* hops to trust
    default_locale: str = "th"  # IDP_DEFAULT_LOCALE: th | en
    timezone: str = "Asia/Bangkok"  # IDP_TIMEZONE: IANA zone of the times in pages and mails
    totp_validity_days: int = 730  # IDP_TOTP_VALIDITY_DAYS: soft-token validity (MISSION B5)
    dev_outbox: bool = False  # IDP_DEV_OUTBOX: show the dev mail outbox page (demo only)
    # Branding (MISSION: an agency's own portal). The demo sets its own values.
    brand_name_th: str = "บริการยืนยันตัวตน"  # IDP_BRAND_NAME_TH: shown in Thai pages and mails
    brand_name_en: str = "Sign-in service"  # IDP_BRAND_NAME_EN
    brand_logo: str = (
        ""  # IDP_BRAND_LOGO: path of a PNG/SVG/JPEG logo file; empty = the built-in one
    )
    brand_primary_colour: str = "#12355b"  # IDP_BRAND_PRIMARY_COLOUR: #rrggbb, 4.5:1 on white
    help_url: str = ""  # IDP_HELP_URL: help / contact page, in the footer
    privacy_url: str = ""  # IDP_PRIVACY_URL: privacy notice (PDPA), in the footer
    terms_url: str = ""  # IDP_TERMS_URL: terms of use, in the footer
    # Registration and identity proofing (issue 10; README "Registration").
    registration_days: int = 7  # IDP_REGISTRATION_DAYS: an unfinished one is purged after
    temporary_member_days: int = 60  # IDP_TEMPORARY_MEMBER_DAYS (MISSION C2)
    # IDP_REGISTRATION_REQUIRE_TOTP: every self-registered person enrols a soft token as
    # the wizard's last step (default off: only agencies with require_second_factor)
    registration_require_totp: bool = False
    registration_rate_limit: str = "20 per hour"  # IDP_REGISTRATION_RATE_LIMIT per IP
    registration_domain_limit: str = "50 per hour"  # IDP_REGISTRATION_DOMAIN_LIMIT per email domain
    agencies_file: str = ""  # IDP_AGENCIES_FILE: JSON list of agencies; empty = built-in list
    registry_url: str = ""  # IDP_REGISTRY_URL: population registry check; empty = not offered
    registry_token: str = ""  # IDP_REGISTRY_TOKEN: bearer token for the registry
    identity_app_issuer: str = ""  # IDP_IDENTITY_APP_ISSUER: proofing OpenID provider
    identity_app_client_id: str = ""  # IDP_IDENTITY_APP_CLIENT_ID
    identity_app_client_secret: str = ""  # IDP_IDENTITY_APP_CLIENT_SECRET
    # IDP_IDENTITY_APP_TRUST_FRAMEWORK: the IDA trust framework the provider verifies
    # under; an answer under another one is refused (SECURITY.md X-04). Advertised in
    # discovery's trust_frameworks_supported.
    identity_app_trust_framework: str = "th_identity_app"
    # IDP_PROOFING_POLL_RATE_LIMIT: status polls per client IP and transaction
    proofing_poll_rate_limit: str = "60 per minute"
    directory_url: str = ""  # IDP_DIRECTORY_URL: staff directory (LDAP); empty = none
    directory_bind_dn: str = ""  # IDP_DIRECTORY_BIND_DN
    directory_bind_password: str = ""  # IDP_DIRECTORY_BIND_PASSWORD
    directory_base_dn: str = ""  # IDP_DIRECTORY_BASE_DN
    # IDP_DIRECTORY_FILTER: {national_id} and {email} are replaced, escaped.
    directory_filter: str = "(|(employeeNumber={national_id})(mail={email}))"
    directory_allow_plain: bool = (
        False  # IDP_DIRECTORY_ALLOW_PLAIN: ldap:// without StartTLS in prod
    )
    directory_start_tls: bool = False  # IDP_DIRECTORY_START_TLS: StartTLS on an ldap:// URL
    directory_ca_file: str = ""  # IDP_DIRECTORY_CA_FILE: CA bundle (PEM); empty = system CAs
    # Account lifecycle (issue 11; README "Accounts").
    # IDP_BACKCHANNEL_LOGOUT_TIMEOUT: seconds one POST of a logout token may take
    backchannel_logout_timeout: int = 5
    # IDP_BACKCHANNEL_LOGOUT_ATTEMPTS: tries before a delivery is given up (logged)
    backchannel_logout_attempts: int = 6
    # IDP_BACKCHANNEL_LOGOUT_WORKER: deliver right after the request (a thread); false:
    # only `idp jobs run` delivers
    backchannel_logout_worker: bool = True
    # IDP_PASSWORD_RESET_RATE_LIMIT: forgot-password submissions per client IP
    password_reset_rate_limit: str = "10 per hour"  # noqa: S105 (a rate, not a secret)
    # IDP_PASSWORD_RESET_ANSWER_MS: the forgot-password pages answer no sooner than this
    # after the request came in, whether or not the details matched (A-09: no timing
    # oracle from the code being stored and mailed)
    password_reset_answer_ms: int = 400
    # IDP_CLOSED_ACCOUNT_RETENTION_DAYS: a closed account's personal data is erased after
    closed_account_retention_days: int = 30
    # Operating: health, metrics, logs (issue 13; README "Operating"). Never public by
    # default (SECURITY.md X-07).
    # IDP_METRICS_ALLOW: addresses or networks that may read /metrics; empty = no /metrics
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_port: int = 0  # IDP_METRICS_PORT: metrics on their own port too; 0 = off
    metrics_bind: str = "127.0.0.1"  # IDP_METRICS_BIND: address of IDP_METRICS_PORT
    log_format: str = "text"  # IDP_LOG_FORMAT: text | json (one JSON object a line)
    log_level: str = "INFO"  # IDP_LOG_LEVEL: DEBUG | INFO | WARNING | ERROR
    extra: dict[str, Any] = field(default_factory=dict)  # test-only Flask config overrides

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def zone(self) -> ZoneInfo:
        """The deployment's time zone (IDP_TIMEZONE), checked at start-up."""
        return ZoneInfo(self.timezone)

    @property
    def is_https(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def longest_token_lifetime(self) -> int:
        return max(self.access_token_ttl, self.id_token_ttl, self.refresh_absolute_ttl)


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: Any, target: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if isinstance(target, bool):
        lowered = raw.strip().lower()
        if lowered in _BOOL_TRUE:
            return True
        if lowered in _BOOL_FALSE:
            return False
        raise ConfigError(f"IDP_{name.upper()} must be true or false, not {raw!r}")
    if isinstance(target, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"IDP_{name.upper()} must be an integer, not {raw!r}") from None
    if isinstance(target, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def load_settings(
    environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) then ``overrides``.

    Raises :class:`ConfigError` on a malformed value or an unsafe production setting.
    """
    environ = dict(os.environ if environ is None else environ)
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name == "extra":
            continue
        key = "IDP_" + f.name.upper()
        if key in environ:
            values[f.name] = _coerce(f.name, environ[key], getattr(defaults, f.name))
    for name, value in (overrides or {}).items():
        if name not in {f.name for f in dataclasses.fields(Settings)}:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, value, getattr(defaults, name))
    settings = dataclasses.replace(defaults, **values)
    settings = dataclasses.replace(settings, issuer=settings.issuer.rstrip("/"))
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse settings that cannot work; in production also refuse unsafe ones."""
    parts = urlsplit(settings.issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"IDP_ISSUER must be an http(s) URL without query, not {settings.issuer!r}"
        )
    if settings.signing_alg not in {"RS256", "ES256"}:
        raise ConfigError("IDP_SIGNING_ALG must be RS256 or ES256")
    if settings.env not in {"development", "production", "test"}:
        raise ConfigError("IDP_ENV must be development, production or test")
    if settings.log_format not in {"text", "json"}:
        raise ConfigError("IDP_LOG_FORMAT must be text or json")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("IDP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    from idp.ops.access import parse_networks

    try:
        parse_networks(settings.metrics_allow)
    except ValueError:
        raise ConfigError(
            "IDP_METRICS_ALLOW must be IP addresses or networks separated by commas"
        ) from None
    if settings.mail_delivery not in {"background", "inline"}:
        raise ConfigError("IDP_MAIL_DELIVERY must be background or inline")
    if settings.mail_attempts < 1:
        raise ConfigError("IDP_MAIL_ATTEMPTS must be at least 1")
    if settings.default_locale not in LOCALES:
        raise ConfigError("IDP_DEFAULT_LOCALE must be th or en")
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "IDP_TIMEZONE must be an IANA time zone such as Asia/Bangkok, "
            f"not {settings.timezone!r}"
        ) from None
    from idp.branding import BrandError, check_brand

    try:
        check_brand(settings)
    except BrandError as err:
        raise ConfigError(str(err)) from None
    if settings.is_production:
        check_production(settings)


def check_production(settings: Settings) -> None:
    """Refuse to start in production with development secrets or transports."""
    if settings.secret_key == DEV_SECRET_KEY or len(settings.secret_key) < 32:
        raise ConfigError(
            "IDP_ENV=production refuses the development IDP_SECRET_KEY: "
            "set IDP_SECRET_KEY to at least 32 random characters"
        )
    host = urlsplit(settings.issuer).hostname
    if settings.issuer.startswith("http://") and host not in {"localhost", "127.0.0.1"}:
        raise ConfigError(
            "IDP_ENV=production needs an https:// IDP_ISSUER (http only on localhost)"
        )
    if settings.database_url.startswith("sqlite") and not settings.allow_sqlite_in_production:
        raise ConfigError(
            "IDP_ENV=production refuses SQLite: set IDP_DATABASE_URL to PostgreSQL, "
            "or IDP_ALLOW_SQLITE_IN_PRODUCTION=true for a single-host install"
        )
    if settings.dev_outbox:
        raise ConfigError("IDP_DEV_OUTBOX cannot be enabled in production")
    if settings.identity_app_issuer and not settings.identity_app_issuer.startswith("https://"):
        raise ConfigError(
            "IDP_ENV=production needs an https:// IDP_IDENTITY_APP_ISSUER (SECURITY.md X-03)"
        )
    from idp.enrollment.agencies import load_agencies

    for agency in load_agencies(settings):  # SECURITY.md X-01: no plain LDAP in production
        if agency.directory is not None and agency.directory.is_plain:
            raise ConfigError(
                f"IDP_ENV=production refuses the plain ldap:// directory of agency "
                f"{agency.code!r}: use ldaps://, StartTLS (IDP_DIRECTORY_START_TLS or the "
                "agency's start_tls) or allow it explicitly (allow_plain)"
            )
