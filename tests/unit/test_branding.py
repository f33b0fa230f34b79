"""The brand settings: WCAG 2.1 contrast of the primary colour (1.4.3), logo and links."""

from __future__ import annotations

import pytest

from idp.branding import contrast_ratio, relative_luminance, shade
from idp.config import ConfigError, load_settings


def test_contrast_ratio_matches_the_wcag_reference_values():
    # WCAG 2.1: black on white is 21:1, equal colours 1:1, #767676 the lightest AA grey.
    assert round(contrast_ratio("#000000", "#ffffff"), 2) == 21.0
    assert contrast_ratio("#12355b", "#12355b") == 1.0
    assert round(contrast_ratio("#767676", "#ffffff"), 2) == 4.54
    assert relative_luminance("#ffffff") == 1.0


def test_shade_darkens_towards_black():
    assert shade("#ffffff", 0.5) == "#808080"
    assert shade("#12355b", 0.0) == "#12355b"


@pytest.mark.parametrize("colour", ["#777777", "#ffcc00", "#4da3ff"])
def test_a_brand_colour_white_text_cannot_be_read_on_is_refused_WCAG_1_4_3(colour):
    with pytest.raises(ConfigError, match="IDP_BRAND_PRIMARY_COLOUR .* contrast"):
        load_settings({}, {"brand_primary_colour": colour})


@pytest.mark.parametrize("colour", ["red", "#12355", "12355b", "#12355bff"])
def test_a_brand_colour_that_is_not_rrggbb_is_refused(colour):
    with pytest.raises(ConfigError, match="#rrggbb"):
        load_settings({}, {"brand_primary_colour": colour})


def test_a_dark_brand_colour_is_accepted():
    assert load_settings({}, {"brand_primary_colour": "#6a1b9a"}).brand_primary_colour == "#6a1b9a"


def test_a_missing_or_foreign_logo_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="IDP_BRAND_LOGO"):
        load_settings({}, {"brand_logo": str(tmp_path / "nope.png")})
    script = tmp_path / "logo.html"
    script.write_text("<script>")
    with pytest.raises(ConfigError, match="IDP_BRAND_LOGO"):
        load_settings({}, {"brand_logo": str(script)})


def test_a_footer_link_must_be_http_or_a_path():
    with pytest.raises(ConfigError, match="IDP_PRIVACY_URL"):
        load_settings({}, {"privacy_url": "javascript:alert(1)"})
    assert load_settings({}, {"privacy_url": "/privacy"}).privacy_url == "/privacy"


def test_a_protocol_relative_footer_link_to_another_origin_is_refused():
    with pytest.raises(ConfigError, match="IDP_HELP_URL"):
        load_settings({}, {"help_url": "//evil.example/help"})


def test_an_audit_date_at_the_end_of_the_calendar_is_no_filter_not_an_error():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from idp.audit import _day

    bangkok = ZoneInfo("Asia/Bangkok")
    assert _day("9999-12-31", bangkok, end=True) is None
    midnight_in_bangkok = datetime(2026, 11, 30, 17, tzinfo=UTC).timestamp()
    assert _day("2026-12-01", bangkok) == midnight_in_bangkok
