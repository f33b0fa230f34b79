"""Each demo RP's accent is the background of white text: WCAG 2.1 1.4.3 (4.5:1)."""

from __future__ import annotations

import pytest

from idp.branding import contrast_ratio
from relying_parties.brands import BRANDS, NEUTRAL_ACCENT, Brand, brand_for, favicon, stylesheet


@pytest.mark.parametrize("accent", [b.accent for b in BRANDS.values()] + [NEUTRAL_ACCENT])
def test_accent_has_aa_contrast_with_white_text(accent):
    assert contrast_ratio(accent, "#ffffff") >= 4.5


def test_each_rp_has_its_own_colour_and_both_names():
    assert len({b.accent for b in BRANDS.values()}) == len(BRANDS)
    assert all(b.name_th and b.name_en and b.mark for b in BRANDS.values())


def test_unknown_slug_gets_a_neutral_brand_named_after_the_title():
    brand = brand_for("payroll", "Payroll")
    assert (brand.name("th"), brand.mark, brand.accent) == ("Payroll", "Pa", NEUTRAL_ACCENT)


def test_favicon_escapes_the_mark():
    svg = favicon(Brand(name_th="x", name_en="x", mark="<a&", accent=NEUTRAL_ACCENT))
    assert "&lt;a&amp;" in svg and "<a&" not in svg


def test_stylesheet_carries_the_accent():
    css = stylesheet(BRANDS["emt"])
    assert "--accent:#0b6b4f;" in css and "--accent-dark:" in css
