"""The demo relying parties' own pages in headless Chromium (issue 9): the person's Thai
name shown as Thai, ``auth_time`` as a date (Buddhist era in Thai), the RP's own
stylesheet applied under its strict CSP, a styled signed-out page, and axe-core's
WCAG 2.1 AA check on each of them in both languages."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import expect

from idp.db import get_db
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.e2e

THAI_NAME = "สมหญิง รักไทย"
THAILAND = timezone(timedelta(hours=7))
AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def somying(live):
    with get_db(live.app).factory() as db:
        make_user(db, "somying", name=THAI_NAME)
    return "somying"


def _sign_in_at(page, rp_url, username):
    page.goto(rp_url)
    page.click("#rp-login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("#rp-name")).to_be_visible()


def _axe_violations(page) -> list[str]:
    """axe-core injected through the DevTools protocol, which the page's CSP does not
    govern: the page is checked as people get it."""
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "opts => axe.run(document, opts)",
        {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]},
    )
    return [
        f"{page.url} {v['id']} [{v['impact']}] {' '.join(n['target'][0] for n in v['nodes'])}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_rp_shows_thai_name_and_auth_time_as_dates(live, browser, somying):
    context = browser.new_context(locale="th-TH")
    page = context.new_page()
    blocked = []
    page.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
    _sign_in_at(page, live.rps["emt"], somying)
    expect(page.locator("html")).to_have_attribute("lang", "th")  # the browser's language

    # The name is Thai characters, also in the raw claims (no \u0e.. JSON escapes).
    expect(page.locator("#rp-name")).to_have_text(THAI_NAME)
    raw = page.locator("#rp-claims").text_content()
    assert "\\u0e" not in raw and json.loads(raw)["name"] == THAI_NAME

    # auth_time is a date in Thailand's time, year in the Buddhist era (พ.ศ. = CE + 543),
    # and <time datetime> is the token's auth_time claim exactly.
    shown = page.locator("#rp-auth-time")
    at = datetime.fromisoformat(shown.get_attribute("datetime"))
    assert at.timestamp() == json.loads(raw)["auth_time"]
    local = at.astimezone(THAILAND)
    assert re.fullmatch(
        rf"{local.day} [\u0e00-\u0e7f]+ พ\.ศ\. {local.year + 543} เวลา\s{local:%H:%M}\sน\.",
        shown.inner_text(),
    )
    expect(page.locator("#rp-acr-words")).to_have_text("รหัสผ่าน")
    expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:pwd")

    page.click(".lang-switch a[hreflang=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert re.fullmatch(
        rf"{local.day} [A-Z][a-z]+ {local.year}, {local:%H:%M}\sICT",
        page.locator("#rp-auth-time").inner_text(),
    )
    expect(page.locator("#rp-name")).to_have_text(THAI_NAME)
    expect(page.locator("#rp-acr-words")).to_have_text("Password")

    # The RP's own stylesheet applies under its CSP (header in the accent colour).
    header = page.locator(".app-header")
    expect(header).to_have_css("background-color", "rgb(11, 107, 79)")  # eMT's #0b6b4f

    page.click("#rp-logout")
    expect(page.locator("#rp-logged-out")).to_have_text("You have signed out")
    expect(header).to_have_css("background-color", "rgb(11, 107, 79)")
    page.click(".lang-switch a[hreflang=th]")  # the signed-out page can be reloaded
    expect(page.locator("#rp-logged-out")).to_have_text("ท่านออกจากระบบแล้ว")
    assert blocked == []
    context.close()


@pytest.mark.parametrize("lang", ["th", "en"])
def test_rp_pages_pass_axe_wcag_21_aa(live, browser, somying, lang):
    context = browser.new_context(locale={"th": "th-TH", "en": "en-GB"}[lang])
    page = context.new_page()
    violations = []
    page.goto(live.rps["einvoice"])
    violations += _axe_violations(page)
    page.goto(live.rps["emt"] + "/?error=access_denied")
    violations += _axe_violations(page)
    _sign_in_at(page, live.rps["emt"], somying)
    page.click("#rp-developer summary")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    violations += _axe_violations(page)
    page.click("#rp-logout")
    expect(page.locator("#rp-logged-out")).to_be_visible()
    violations += _axe_violations(page)
    assert violations == []
    context.close()
