"""End to end in Chromium (issue 11, MISSION B3): forgot password from the sign-in page
of a demo RP, the code read from the real SMTP sink, a new password, then sign-in to
the demo RP with it; the old password no longer works and the person is told."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from idp.db import get_db
from idp.enrollment import pii
from idp.enrollment.identity import check_national_id, thai_id_check_digit
from tests.e2e.live import sign_in
from tests.factories import PASSWORD, mail_text, make_user

pytestmark = pytest.mark.e2e

DARA_ID = "170010012345" + thai_id_check_digit("170010012345")
NEW_PASSWORD = "river boat lantern morning"  # noqa: S105


def _dara(live):
    settings = live.app.extensions["idp_settings"]
    with get_db(live.app).factory() as db:
        user = make_user(db, "dara", name="Dara Suk", locale="en")
        for name, value in pii.seal(settings, check_national_id(DARA_ID)).columns().items():
            setattr(user, name, value)
        db.commit()


def test_forgot_password_then_sign_in_to_a_demo_rp_A09_A12(live, page):
    _dara(live)
    page.goto(live.rps["emt"])
    page.click("#rp-login")
    page.click("text=English")
    page.click("#forgot-link")
    expect(page.locator("#recover-title")).to_have_text("Forgotten your password?")
    page.fill("#identifier", "dara")
    page.fill(
        "#document", f"{DARA_ID[0]}-{DARA_ID[1:5]}-{DARA_ID[5:10]}-{DARA_ID[10:12]}-{DARA_ID[12]}"
    )
    page.click("#forgot-submit")
    expect(page.locator("#forgot-sent")).to_contain_text("If the details match an account")
    expect(page.locator("#email-send")).to_be_disabled()  # the 90 s countdown
    expect(page.locator("#email-countdown")).to_contain_text("You can ask for a new code in")
    mail = live.inbox.to("dara@example.org")[-1]
    code = re.search(r"\b(\d{6})\b", mail_text(mail)).group(1)
    page.fill("#code", code)
    page.click("#code-submit")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password-confirm", NEW_PASSWORD)
    page.click("#reset-submit")
    expect(page.locator("#reset-done")).to_have_text("Your password was changed")
    done = live.inbox.to("dara@example.org")[-1]
    assert "was reset" in done["Subject"] and NEW_PASSWORD not in mail_text(done)

    page.goto(live.rps["emt"])
    page.click("#rp-login")
    sign_in(page, "dara", PASSWORD)  # the old password is gone
    expect(page.locator("#login-error")).to_be_visible()
    sign_in(page, "dara", NEW_PASSWORD)
    expect(page.locator("#rp-user")).to_have_text("dara")
