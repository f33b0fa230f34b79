"""Texts kept in both languages are shown in the page's language, with one fallback
rule (issue 9 "Language": organisation names, scope descriptions)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from idp.localized import org_name, other_org_name, pick


@dataclass
class Org:
    name_th: str
    name_en: str = ""


@pytest.mark.parametrize(
    ("th", "en", "locale", "expected"),
    [
        ("ส่งใบกำกับภาษี", "Submit invoices", "th", "ส่งใบกำกับภาษี"),
        ("ส่งใบกำกับภาษี", "Submit invoices", "en", "Submit invoices"),
        ("ส่งใบกำกับภาษี", "Submit invoices", "en_US", "Submit invoices"),
        ("ส่งใบกำกับภาษี", "", "en", "ส่งใบกำกับภาษี"),  # the other language
        ("", "Submit invoices", "th", "Submit invoices"),
        ("  ", None, "th", "einvoice:submit"),  # then the code
    ],
)
def test_pick_prefers_the_page_language_then_the_other_then_the_fallback(th, en, locale, expected):
    assert pick(th, en, locale, fallback="einvoice:submit") == expected


def test_org_name_is_english_on_english_pages_when_set():
    siam = Org("บริษัท สยามนำเข้า จำกัด", "Siam Import Co., Ltd.")
    assert org_name(siam, "en") == "Siam Import Co., Ltd."
    assert org_name(siam, "th") == "บริษัท สยามนำเข้า จำกัด"
    assert org_name(Org("กรมการค้า"), "en") == "กรมการค้า"


def test_other_org_name_is_the_secondary_name_or_nothing():
    siam = Org("บริษัท สยามนำเข้า จำกัด", "Siam Import Co., Ltd.")
    assert other_org_name(siam, "en") == "บริษัท สยามนำเข้า จำกัด"
    assert other_org_name(siam, "th") == "Siam Import Co., Ltd."
    assert other_org_name(Org("กรมการค้า"), "en") == ""
