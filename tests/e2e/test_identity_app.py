"""The identity app, cross-device, end to end in Chromium (issue 10 B1 step 2,
SECURITY.md X-02): a signed-in temporary member opens /proofing/app, the "phone" (a
second browser context: another browser session) opens the QR code's URL, sees the
same match code at the demo proofing provider and confirms; the desktop page
continues by itself and the person is verified."""

from __future__ import annotations

import base64
import subprocess
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.db import get_db
from idp.models import User
from tests.e2e.live import sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _qr_url(page, tmp_path) -> str:
    src = page.locator("#proofing-qr").get_attribute("src")
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    return subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_temporary_member_verifies_with_the_identity_app_on_a_second_device_x02(
    live, browser, tmp_path
):
    with get_db(live.app).factory() as db:
        make_user(
            db,
            "tem",
            name="Temporary Member",
            membership_status="temporary",
            membership_expires_at=int(time.time()) + 30 * 86400,
        )
    desktop = browser.new_context(locale="en-GB")
    page = desktop.new_page()
    page.goto(live.issuer + "/login?next=/proofing/app")
    sign_in(page, "tem")
    expect(page.locator("#proofing-title")).to_be_visible()
    code = page.locator("#proofing-match-code").inner_text()
    url = _qr_url(page, tmp_path)
    assert url.startswith(live.issuer + "/proofing/app/t/")

    phone_context = browser.new_context(locale="en-GB")  # another browser session
    phone = phone_context.new_page()
    phone.goto(url)
    expect(phone.locator("#match-code")).to_have_text(code)
    expect(phone.locator("#asks")).to_contain_text("asks to confirm your identity")
    phone.click("#app-confirm")
    expect(phone.locator("#phone-result")).to_have_attribute("data-reason", "verified")
    expect(phone.locator("#phone-match-code")).to_have_text(code)

    # The desktop page polls and continues by itself to /account.
    expect(page).to_have_url(live.issuer + "/account", timeout=20000)
    with get_db(live.app).factory() as db:
        user = db.scalar(select(User).where(User.username_key == "tem"))
        assert user.membership_status == "verified"
    phone_context.close()
    desktop.close()
