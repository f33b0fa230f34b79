"""Step-up MFA end to end in headless Chromium: TOTP enrolment from the QR code
(zbarimg + oathtool), WebAuthn with Chromium's virtual authenticator, email OTP read
from a real SMTP server, and a password session stepping up at e-Invoice."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from datetime import datetime

import pytest
import time_machine
from playwright.sync_api import expect

from tests.factories import PASSWORD, mail_text
from tests.otp import oathtool_code

pytestmark = pytest.mark.e2e


def _sign_in(page, username):
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")


def _auth_time(page) -> float:
    """The RP shows auth_time as a date; <time datetime> carries it in ISO 8601."""
    return datetime.fromisoformat(
        page.locator("#rp-auth-time").get_attribute("datetime")
    ).timestamp()


def _start(page, live, rp, username):
    page.goto(live.rps[rp])
    page.click("#rp-login")
    _sign_in(page, username)


def test_totp_enrolment_from_qr_code_then_login(live, page, tmp_path):
    _start(page, live, "einvoice", "alice")  # alice has no factor; e-Invoice needs mfa
    page.click("#enrol-start")
    src = page.locator("#totp-qr").get_attribute("src")
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    uri = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert uri.startswith("otpauth://totp/idp:alice%40example.org?")
    secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
    assert page.locator("#totp-secret").inner_text() == secret
    page.fill("#totp-code", oathtool_code(secret))
    page.click("#totp-confirm")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("#continue")
    page.click("#consent-allow")
    expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:mfa")
    expect(page.locator("#rp-amr")).to_contain_text("otp")
    # alice chose no language (the browser's does not count): the default, Thai
    assert any("แอปยืนยันตัวตน" in m["Subject"] for m in live.inbox.to("alice@example.org"))


def test_password_session_steps_up_at_einvoice(live, page):
    # The IdP, the RPs and oathtool run on this process's clock: moving it two minutes
    # on before the fresh step-up makes "auth_time is the new login's" checkable.
    with time_machine.travel(time.time(), tick=True) as clock:
        _start(page, live, "emt", "somchai")
        expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:pwd")
        page.goto(live.rps["einvoice"])
        page.click("#rp-login")
        expect(page.locator("#totp-code")).to_be_visible()  # no password asked again
        page.fill("#totp-code", oathtool_code(live.totp_secret))
        page.click("#totp-submit")
        page.click("#consent-allow")
        expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:mfa")
        first = _auth_time(page)
        clock.shift(120)
        # "Submit an invoice" asks for a fresh step-up: max_age=0 -> password + factor again.
        # The page says who asks, and keeps somchai's name fixed (issue 9).
        page.click("#rp-step-up")
        expect(page.locator("#reauth-reason")).to_contain_text(
            re.compile(r"For your security, .*[Ii]nvoice.* asks you to enter your password again")
        )
        expect(page.locator("#username")).to_have_value("somchai")
        expect(page.locator("#username")).not_to_be_editable()
        expect(page.locator("#switch-user")).to_be_visible()
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.fill("#totp-code", oathtool_code(live.totp_secret))  # 4 time steps later
        page.click("#totp-submit")
        expect(page.locator("#rp-done")).to_contain_text(
            "Submit an invoice: done at acr urn:idp:acr:mfa"
        )
        # OIDC Core 2 / SECURITY.md 6: auth_time is when this step-up happened.
        assert _auth_time(page) >= first + 120


def test_email_otp_from_smtp(live, page):
    _start(page, live, "search", "alice")
    page.click("#email-send")
    expect(page.locator("#email-sent")).to_be_visible()
    expect(page.locator("#email-send")).to_be_disabled()  # the 90 s countdown
    body = mail_text(live.inbox.to("alice@example.org")[-1])
    page.fill("#email-code", re.search(r"\b(\d{6})\b", body).group(1))
    page.click("#email-submit")
    expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:mfa-email")
    expect(page.locator("#rp-amr")).to_contain_text("email")


@pytest.fixture
def authenticator(context, page):
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    r = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, r["authenticatorId"]


def test_webauthn_registration_and_step_up(live, page, authenticator):
    cdp, auth_id = authenticator
    page.goto(live.issuer + "/login?next=security")
    _sign_in(page, "alice")
    page.click("#add-webauthn")
    page.fill("#webauthn-name", "Virtual key")
    page.click("#webauthn-register")
    expect(page.locator(".factor-name")).to_have_text("Virtual key")
    assert (
        len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]) == 1
    )
    page.goto(live.rps["einvoice"])
    page.click("#rp-login")
    page.click("#webauthn-start")
    # The ceremony with the virtual authenticator, then the consent page: once over 30 s
    # on a loaded CI machine.
    page.click("#consent-allow", timeout=90_000)
    expect(page.locator("#rp-acr")).to_have_text("urn:idp:acr:phr")
    expect(page.locator("#rp-amr")).to_contain_text("hwk")
