"""Settings: parsing and the production refusals."""

from __future__ import annotations

import pytest

from idp.config import ConfigError, load_settings

PROD_OK = {
    "IDP_ENV": "production",
    "IDP_ISSUER": "https://idp.example.go.th",
    "IDP_SECRET_KEY": "x" * 40,
    "IDP_DATABASE_URL": "postgresql+psycopg://idp@db/idp",
}


def test_defaults_are_for_development():
    s = load_settings({})
    assert s.env == "development" and s.database_url.startswith("sqlite")
    assert s.code_ttl == 60 and s.access_token_ttl <= 600


def test_the_time_zone_is_bangkok_unless_set():
    assert load_settings({}).zone.key == "Asia/Bangkok"
    assert load_settings({"IDP_TIMEZONE": "Asia/Tokyo"}).zone.key == "Asia/Tokyo"


def test_environment_values_are_typed():
    s = load_settings(
        {
            "IDP_ACCESS_TOKEN_TTL": "300",
            "IDP_CORS_ORIGINS": "https://a, https://b",
            "IDP_ALLOW_SQLITE_IN_PRODUCTION": "yes",
        }
    )
    assert s.access_token_ttl == 300
    assert s.cors_origins == ("https://a", "https://b")
    assert s.allow_sqlite_in_production is True


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"IDP_ACCESS_TOKEN_TTL": "ten"}, "IDP_ACCESS_TOKEN_TTL"),
        ({"IDP_ALLOW_SQLITE_IN_PRODUCTION": "maybe"}, "true or false"),
        ({"IDP_ISSUER": "ftp://x"}, "IDP_ISSUER"),
        ({"IDP_SIGNING_ALG": "HS256"}, "IDP_SIGNING_ALG"),
        ({"IDP_ENV": "staging"}, "IDP_ENV"),
        ({"IDP_TIMEZONE": "Bangkok"}, "IDP_TIMEZONE"),
        ({"IDP_TIMEZONE": "../../etc/passwd"}, "IDP_TIMEZONE"),
        ({"IDP_TIMEZONE": ""}, "IDP_TIMEZONE"),
    ],
)
def test_malformed_values_are_refused_with_the_variable_named(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_production_accepts_safe_settings():
    assert load_settings(PROD_OK).is_production


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"IDP_SECRET_KEY": "dev-secret-key-change-me"}, "IDP_SECRET_KEY"),
        ({"IDP_SECRET_KEY": "short"}, "IDP_SECRET_KEY"),
        ({"IDP_ISSUER": "http://idp.example.go.th"}, "https"),
        ({"IDP_DATABASE_URL": "sqlite:///idp.db"}, "SQLite"),
    ],
)
def test_production_refuses_dev_secrets_http_and_sqlite(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings({**PROD_OK, **change})


def test_production_allows_http_localhost_and_sqlite_when_explicit():
    s = load_settings(
        {
            **PROD_OK,
            "IDP_ISSUER": "http://localhost:5000",
            "IDP_DATABASE_URL": "sqlite:///x.db",
            "IDP_ALLOW_SQLITE_IN_PRODUCTION": "true",
        }
    )
    assert s.issuer == "http://localhost:5000"
