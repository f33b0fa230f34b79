"""The front door end to end, as issue 10 asks it: a person registers, reads the code
from the SMTP server, proves who they are with the demo identity app in a second
browser (the phone), lands as verified, and signs in to the demo search RP, which
requires a verified member and shows the membership and the ``verified_claims``
(MISSION B1, C2, C4; OpenID Connect for Identity Assurance 1.0; SECURITY.md X-02)."""

from __future__ import annotations

import base64
import re
import subprocess

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.db import get_db
from idp.models import IdentityVerification, User
from tests.e2e.registration_steps import PASSWORD, code_from
from tests.factories import mail_text

pytestmark = [pytest.mark.e2e, pytest.mark.both_databases]

# The demo proofing provider's first fixture person (idp/dev/proofing_people.json),
# the one its phone page offers first.
SOMSRI = {"national_id": "1101700123456", "given_name_th": "สมศรี", "family_name_th": "รักไทย"}


def _qr_url(page, tmp_path) -> str:
    src = page.locator("#proofing-qr").get_attribute("src")
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    return subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_register_prove_with_the_identity_app_then_use_the_search_rp(live, browser, tmp_path):
    email = "somsri@example.org"
    desktop = browser.new_context(locale="en-GB")
    page = desktop.new_page()
    page.goto(live.issuer + "/login")
    page.click("#register-link")
    page.click("#register-person")
    page.check("#member-public")
    page.check("#doc-national")
    page.fill("#national_id", SOMSRI["national_id"])
    page.fill("#email", email)
    page.check("#notice")
    page.click("#identity-next")

    # Step 2: the identity app, on "another device" (a second browser session).
    page.click("#prove-identity-app")
    code_shown = page.locator("#proofing-match-code").inner_text()
    phone_context = browser.new_context(locale="en-GB")
    phone = phone_context.new_page()
    phone.goto(_qr_url(page, tmp_path))
    expect(phone.locator("#match-code")).to_have_text(code_shown)
    phone.click("#app-confirm")
    expect(phone.locator("#phone-result")).to_have_attribute("data-reason", "verified")
    phone_context.close()

    # The desktop page continues by itself, back to the wizard, now proven.
    expect(page.locator("#prove-continue")).to_be_visible(timeout=20000)
    page.click("#prove-continue")
    page.fill("#given_name_th", SOMSRI["given_name_th"])
    page.fill("#family_name_th", SOMSRI["family_name_th"])
    page.fill("#given_name_en", "Somsri")
    page.fill("#family_name_en", "Rakthai")
    page.fill("#birthdate", "1990-04-13")
    page.select_option("#gender", "female")
    page.fill("#code", code_from(live.inbox, email))
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("#details-submit")
    expect(page.locator("#welcome-membership")).to_be_visible()
    with get_db(live.app).factory() as db:
        user = db.scalar(select(User).where(User.email_key == email))
        assert user.membership_status == "verified"
        proof = db.scalar(
            select(IdentityVerification).where(
                IdentityVerification.user_id == user.id,
                IdentityVerification.outcome == "verified",
            )
        )
        assert proof.method == "identity_app"

    # Single sign-on to the search RP (it requires a verified member and an emailed
    # code as second step).
    page.goto(live.rps["search"])
    page.click("#rp-login")
    page.click("#email-send")
    body = mail_text(live.inbox.to(email)[-1])
    page.fill("#email-code", re.search(r"\b(\d{6})\b", body).group(1))
    page.click("#email-submit")
    expect(page.locator("#rp-membership")).to_be_visible()
    expect(page.locator("#rp-member-state")).to_contain_text("erified")
    expect(page.locator("#rp-verified-claims")).to_contain_text("Somsri")
    expect(page.locator("#rp-trust-framework")).not_to_be_empty()
    desktop.close()
