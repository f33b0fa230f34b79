"""A person registers in Chromium through the population registry (issue 10 "People",
MISSION B1/C2): the demo registry answers over real HTTP, the code is read from the
SMTP sink, the person lands signed in and verified on their account page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.db import get_db
from idp.models import User
from tests.e2e.registration_steps import (
    MALEE,
    code_from,
    fill_details,
    fill_identity,
    fill_registry,
)

pytestmark = pytest.mark.e2e


def test_a_person_registers_through_the_registry_and_lands_verified(live, page):
    email = "malee@example.org"
    page.goto(live.issuer + "/login")
    page.click("#register-link")
    page.click("#register-person")
    expect(page.locator("#wizard-steps [aria-current=step]")).to_contain_text("1")
    fill_identity(page, MALEE, email)
    expect(page.locator("#registry-check")).to_be_visible()
    fill_registry(page, MALEE)
    expect(page.locator("#details-submit")).to_be_visible()
    fill_details(page, MALEE, code_from(live.inbox, email))
    expect(page.locator("#welcome-membership")).to_be_visible()
    page.click("#welcome-continue")
    expect(page).to_have_url(live.issuer + "/account")
    with get_db(live.app).factory() as db:
        user = db.scalar(select(User).where(User.email_key == email))
        assert user.membership_status == "verified" and user.email_verified
        assert user.given_name_th == "มาลี" and user.id_doc_masked.endswith("1")
