"""End to end: an org admin uploads the power-of-attorney document (A1); a platform
operator reviews it, then suspends the organisation and its member loses access at
e-Invoice (issue 4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from idp.db import get_db
from idp.models import ClientScope, Organization, User
from idp.orgs import services
from tests.factories import PASSWORD
from tests.otp import oathtool_code
from tests.unit.orgs.test_documents import pdf

pytestmark = pytest.mark.e2e


def test_upload_review_and_suspend(live, page, browser, tmp_path):
    with get_db(live.app).factory() as db:  # operators are made by the CLI, not the web
        db.execute(update(User).where(User.username_key == "somchai").values(is_operator=True))
        org = db.scalar(select(Organization))
        chai = db.scalar(select(User).where(User.username_key == "chai"))
        scope = db.scalar(select(ClientScope).where(ClientScope.name == "einvoice:submit"))
        services.grant_scope(db, org.id, chai.id, scope.id)  # chai could sign in until...
        db.commit()
    letter = tmp_path / "หนังสือมอบอำนาจ.pdf"
    letter.write_bytes(pdf())

    page.goto(live.issuer + "/login?lang=en")
    page.fill("#username", "somchai")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.click("a.org-console")
    page.fill("#totp-code", oathtool_code(live.totp_secret))
    page.click("#totp-submit")
    page.click("#profile-link")
    page.set_input_files("#document", str(letter))
    page.click("#upload-document")
    expect(page.locator("#console-message")).to_contain_text("operator will review")

    page.goto(live.issuer + "/account")
    page.click("#operator-console")
    page.click("#org-0105536092641 a")
    expect(page.locator("#documents")).to_contain_text("หนังสือมอบอำนาจ.pdf")
    page.click("#accept-document")
    expect(page.locator("#documents")).to_contain_text("accepted")
    page.click("#suspend")
    # Issue 9: a confirmation page first; nothing changes before "Yes".
    expect(page.locator("#confirm-title")).to_have_text("Suspend the organisation?")
    page.click("#confirm-cancel")
    expect(page.locator("#org-status")).to_have_text("active")
    page.click("#suspend")
    page.click("#confirm-yes")
    expect(page.locator("#org-status")).to_have_text("suspended")

    member = browser.new_context().new_page()
    member.goto(live.rps["einvoice"])
    member.click("#rp-login")
    member.fill("#username", "chai")
    member.fill("#password", PASSWORD)
    member.click("#sign-in")
    member.fill("#totp-code", oathtool_code(live.chai_secret))
    member.click("#totp-submit")
    expect(member.locator("#no-access")).to_be_visible()
    # Not a dead end (issue 9): back to e-Invoice with access_denied (RFC 6749 4.1.2.1).
    member.click("#back-to-client")
    expect(member.locator("#rp-error")).to_contain_text("access_denied")
