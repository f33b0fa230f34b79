"""The identity app's provider is reached over TLS in production (SECURITY.md X-03)."""

from __future__ import annotations

import pytest

from idp.config import ConfigError, load_settings
from tests.unit.test_config import PROD_OK


def test_production_refuses_a_plain_http_identity_app_issuer_x03():
    with pytest.raises(ConfigError, match="IDP_IDENTITY_APP_ISSUER"):
        load_settings({**PROD_OK, "IDP_IDENTITY_APP_ISSUER": "http://app.example.go.th"})
    ok = load_settings({**PROD_OK, "IDP_IDENTITY_APP_ISSUER": "https://app.example.go.th"})
    assert ok.identity_app_issuer == "https://app.example.go.th"
    assert ok.proofing_poll_rate_limit == "60 per minute"
