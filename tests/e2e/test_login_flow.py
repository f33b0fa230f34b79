"""End to end in headless Chromium: a demo RP logs in at the IdP and logs out."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.both_databases]


def _sign_in(page, username="somchai", password=PASSWORD):
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")


def test_rp_login_shows_claims_and_logout_ends_idp_session(live, page):
    page.goto(live.rps["emt"])
    page.click("#rp-login")
    expect(page).to_have_url(re.compile(rf"^{live.issuer}/login"))
    _sign_in(page)
    expect(page.locator("#rp-user")).to_have_text("somchai")
    expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:pwd")
    expect(page.locator("#rp-amr")).to_have_text("pwd")
    # auth_time is shown as a date; the machine-readable time is in <time datetime>.
    auth_time = page.locator("#rp-auth-time").get_attribute("datetime")
    assert datetime.fromisoformat(auth_time).timestamp() > 0
    expect(page.locator("#rp-claims")).to_contain_text("somchai@example.org")
    expect(page.locator("#rp-userinfo")).to_contain_text("Somchai Jaidee")

    # Single sign-on: the second RP asks only for consent, not for a password.
    page.goto(live.rps["records"])
    page.click("#rp-login")
    expect(page.locator("#consent-scopes")).to_be_visible()
    page.click("#consent-allow")
    expect(page.locator("#rp-user")).to_have_text("somchai")

    page.click("#rp-logout")
    expect(page.locator("#rp-logged-out")).to_be_visible()
    # The IdP session is gone: logging in again asks for the password.
    page.goto(live.rps["records"])
    page.click("#rp-login")
    expect(page.locator("#password")).to_be_visible()


def test_wrong_password_shows_generic_translated_error(live, page):
    page.goto(live.rps["emt"])
    page.click("#rp-login")
    page.click("text=English")
    _sign_in(page, password="not the password at all")
    expect(page.locator("#login-error")).to_have_text(
        "Sign-in failed: the username or password is wrong, or sign-in is paused for a few "
        "minutes. Check them and try again."
    )
    page.click("text=ไทย")
    expect(page.locator("html")).to_have_attribute("lang", "th")


def test_paused_sign_in_links_to_recovery(live, page):
    """Issue 9: after 5 failures sign-in with that name is paused, said plainly and the
    same for a name nobody has (this one), with a link to password recovery."""
    page.goto(live.issuer + "/login?lang=en")
    for _ in range(4):
        _sign_in(page, username="nobody-at-all", password="not the password at all")
        expect(page.locator("#login-error")).to_contain_text("Sign-in failed")
    _sign_in(page, username="nobody-at-all", password="not the password at all")
    expect(page.locator("#login-error")).to_contain_text(
        "Sign-in with this username or email is paused for a few minutes"
    )
    page.click("#recover-link")
    expect(page.locator("#recover-title")).to_have_text("Forgotten your password?")
    page.click("text=ไทย")
    expect(page.locator("#recover-title")).to_have_text("ลืมรหัสผ่านใช่หรือไม่")
    expect(page.locator("body")).to_contain_text("ผู้ดูแลหน่วยงานของคุณ")
