"""End to end in Chromium (issue 10 "Tests"; MISSION C3): a member of staff whom the
agency's directory (a real slapd) finds registers through the wizard, reads the code
from the SMTP sink, and lands with the staff badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp import create_app
from idp.db import get_db
from idp.models import IdentityVerification, User
from tests.conftest import BASE_OVERRIDES, fresh_database_url
from tests.e2e.live import _serve
from tests.factories import PASSWORD, mail_text
from tests.ldap_server import SOMCHAI_ID

EMAIL = "somchai@moc.example"


@pytest.fixture
def staff_idp(template_db, tmp_path, smtp_sink, ldap_directory):
    srv = _serve()
    issuer = f"http://localhost:{srv.server_port}"
    app = create_app(
        {
            **BASE_OVERRIDES,
            "issuer": issuer,
            "smtp_url": smtp_sink.url,
            "database_url": fresh_database_url(template_db, tmp_path),
            "directory_url": ldap_directory.url,
            "directory_bind_dn": ldap_directory.bind_dn,
            "directory_bind_password": ldap_directory.bind_password,
            "directory_base_dn": ldap_directory.base_dn,
        }
    )
    srv.app = app
    yield issuer, app
    srv.shutdown()
    get_db(app).dispose()


def test_a_member_of_staff_found_in_the_directory_registers_with_the_badge_C3(
    staff_idp, smtp_sink, browser
):
    issuer, app = staff_idp
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(issuer + "/register/identity?lang=en")
    page.check("#member-staff")
    page.select_option("#agency", "moc-dit")
    page.check("#doc-national")
    page.fill("#national_id", SOMCHAI_ID)
    page.fill("#email", EMAIL)
    page.check("#notice")
    page.click("#identity-next")
    page.click("#prove-directory")
    expect(page).to_have_url(re.compile(r"/register/details"))
    mail = next(m for m in reversed(smtp_sink.to(EMAIL)) if "code" in mail_text(m).lower())
    code = re.search(r"\b(\d{6})\b", mail_text(mail)).group(1)
    page.fill("#given_name_th", "สมชาย")
    page.fill("#family_name_th", "ใจดี")
    page.fill("#given_name_en", "Somchai")
    page.fill("#family_name_en", "Jaidee")
    page.select_option("#gender", "male")
    page.fill("#birthdate", "1985-04-12")
    page.fill("#position", "Trade officer")
    page.fill("#code", code)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("#details-submit")
    expect(page.locator("#welcome-membership")).to_contain_text("verified member of staff")
    with get_db(app).factory() as db:
        user = db.scalar(select(User).where(User.email_key == EMAIL))
        assert (user.member_type, user.membership_status) == ("staff", "staff_verified")
        proof = db.scalar(
            select(IdentityVerification).where(IdentityVerification.user_id == user.id)
        )
        assert proof.method == "directory" and proof.evidence_ref.startswith("uid=somchai,")
    context.close()
