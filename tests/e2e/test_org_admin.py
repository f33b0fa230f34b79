"""End to end: an org admin grants einvoice:submit in the console; the member then
logs in to the e-Invoice demo RP and sees it (issue 4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.otp import oathtool_code

pytestmark = pytest.mark.e2e


def test_admin_grants_scope_member_sees_it_at_einvoice(live, page, browser):
    page.goto(live.issuer + "/login")
    page.fill("#username", "somchai")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.click("a.org-console")
    page.fill("#totp-code", oathtool_code(live.totp_secret))  # consoles need mfa
    page.click("#totp-submit")
    expect(page.locator("#seat-usage")).to_contain_text("2")
    page.click("#grant-chai-einvoice-submit")
    expect(page.locator("#revoke-chai-einvoice-submit")).to_be_visible()

    member = browser.new_context().new_page()
    member.goto(live.rps["einvoice"])
    member.click("#rp-login")
    member.fill("#username", "chai")
    member.fill("#password", PASSWORD)
    member.click("#sign-in")
    member.fill("#totp-code", oathtool_code(live.chai_secret))
    member.click("#totp-submit")
    member.click("#consent-allow")
    expect(member.locator("#rp-scope")).to_contain_text("einvoice:submit")
    expect(member.locator("#rp-org")).to_contain_text("0105536092641")
