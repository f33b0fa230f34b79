"""End to end (issue 10, MISSION A1): a signed-in person registers a company with a PDF
power of attorney; an operator approves it (``review.decide``, as the review queue
does); the person then opens the company's console. Before approval it is refused
(SECURITY.md R-05)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.db import get_db
from idp.enrollment import review
from idp.enrollment.identity import thai_id_check_digit
from idp.models import Organization, ReviewItem
from tests.e2e.live import sign_in
from tests.factories import make_user
from tests.otp import oathtool_code
from tests.unit.orgs.test_documents import pdf

pytestmark = pytest.mark.e2e

JID = "010555700000" + thai_id_check_digit("010555700000")


def test_person_registers_company_operator_approves_person_sees_console(live, page, tmp_path):
    poa = tmp_path / "poa.pdf"
    poa.write_bytes(pdf())
    page.goto(live.issuer + "/login?lang=en")
    sign_in(page, "somchai")
    page.goto(live.issuer + "/register/company")
    expect(page.locator(".idp-steps [aria-current=step]")).to_contain_text("Company")
    page.fill("#juristic_id", JID)
    page.fill("#name_th", "บริษัท ทดสอบ จำกัด")
    page.fill("#name_en", "Test Co., Ltd.")
    page.click("#company-next")
    page.check("#office-head_office")
    for field, value in {
        "address": "1 Silom Road",
        "district": "Bang Rak",
        "province": "Bangkok",
        "postcode": "10500",
        "contact_name": "Somchai Jaidee",
        "contact_email": "somchai@test.example",
        "contact_phone": "081 234 5678",
    }.items():
        page.fill(f"#{field}", value)
    page.click("#company-next")
    expect(page.locator("#company-admin")).to_contain_text("Somchai Jaidee")
    page.click("#company-next")
    page.set_input_files("#document", str(poa))
    page.click("#company-submit")
    expect(page.locator("#company-submitted")).to_be_visible()

    with get_db(live.app).factory() as db:
        org = db.scalar(select(Organization).where(Organization.identifier == JID))
        assert org.status == "pending"
        page.goto(f"{live.issuer}/orgs/{org.id}/admin")
        expect(page.locator("#org-not-approved")).to_be_visible()
        operator = make_user(db, "operator")
        operator.is_operator = True
        db.commit()
        item = db.scalar(select(ReviewItem).where(ReviewItem.org_id == org.id))
        with live.app.test_request_context():
            review.decide(
                db, live.app.extensions["idp_settings"], item.id, operator.id, "approve", ""
            )
            db.commit()
        org_id = org.id

    page.goto(f"{live.issuer}/orgs/{org_id}/admin")
    page.fill("#totp-code", oathtool_code(live.totp_secret))  # consoles need mfa
    page.click("#totp-submit")
    expect(page.locator("h1")).to_contain_text("Test Co., Ltd.")
    assert any("approved" in m["Subject"] for m in live.inbox.to("somchai@example.org"))
