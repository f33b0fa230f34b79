"""The demo RPs' words and dates (issue 9: Thai dates use the Buddhist-era year)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relying_parties import app as rp_app
from relying_parties import i18n

TEMPLATES = Path(rp_app.__file__).parent / "templates"


def _epoch(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("utc", "locale", "shown"),
    [
        # Thailand is UTC+7: 17:30 UTC on 31 December is already New Year there.
        ((2026, 12, 31, 17, 30), "th", "1 มกราคม พ.ศ. 2570 เวลา\u00a000:30\u00a0น."),
        ((2026, 12, 31, 17, 30), "en", "1 January 2027, 00:30\u00a0ICT"),
        ((2026, 12, 2, 0, 5), "th", "2 ธันวาคม พ.ศ. 2569 เวลา\u00a007:05\u00a0น."),
        ((2026, 12, 2, 0, 5), "en", "2 December 2026, 07:05\u00a0ICT"),
        ((2024, 2, 29, 4, 0), "th", "29 กุมภาพันธ์ พ.ศ. 2567 เวลา\u00a011:00\u00a0น."),
    ],
)
def test_human_datetime_in_thailand_with_buddhist_era_in_thai(utc, locale, shown):
    assert i18n.human_datetime(_epoch(*utc), locale) == shown


def test_machine_datetime_keeps_the_common_era_and_the_offset():
    iso = i18n.machine_datetime(_epoch(2026, 12, 31, 17, 30))
    assert iso == "2027-01-01T00:30:00+07:00"
    assert datetime.fromisoformat(iso).timestamp() == _epoch(2026, 12, 31, 17, 30)


@pytest.mark.parametrize(
    ("chosen", "browser", "locale"),
    [("en", "th", "en"), (None, "en", "en"), (None, None, "th"), ("xx", None, "th")],
)
def test_choice_beats_browser_and_thai_is_the_default(chosen, browser, locale):
    assert i18n.choose_locale(chosen, browser) == locale


def test_acr_amr_and_scopes_in_words():
    assert i18n.acr_words("urn:idp:acr:pwd", "th") == "รหัสผ่าน"
    assert i18n.acr_words("urn:idp:acr:phr", "en").startswith("Phishing-resistant")
    assert i18n.acr_words("urn:other", "en") == "Unknown level"
    assert i18n.amr_words(["pwd", "otp", "xyz"], "en") == ["password", "one-time code", "xyz"]
    own = {"einvoice:submit": ("ส่งใบกำกับภาษี", "Submit invoices")}
    assert i18n.scope_words("einvoice:submit", "th", own) == "ส่งใบกำกับภาษี"
    assert i18n.scope_words("email", "en", own) == "Your email address"
    assert i18n.scope_words("unknown:right", "th", own) == "unknown:right"


def _template_messages() -> set[str]:
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        found |= set(re.findall(r"""\bt\(\s*(["'])(.+?)\1""", path.read_text()))
    return {message for _quote, message in found}


def test_every_rp_message_has_a_thai_translation():
    messages = (
        _template_messages()
        | set(rp_app.ERRORS.values())
        | {"Sign-in did not complete."}
        | set(i18n.ACR_WORDS.values())
        | set(i18n.AMR_WORDS.values())
        | set(i18n.STANDARD_SCOPES.values())
        | {"Unknown level", "Submit an invoice"}
    )
    assert len(_template_messages()) > 20  # the pattern does find the templates' strings
    assert sorted(m for m in messages if not i18n.THAI.get(m)) == []
