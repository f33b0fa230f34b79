"""Sign out at the IdP and every demo RP is signed out (issue 11; OpenID Connect
Back-Channel Logout 1.0): somchai signs in to all four demo RPs in Chromium, signs out
on /account, the IdP POSTs a logout token to each RP (the worker thread, right after
the sign-out's commit), and each RP's next page load shows it signed out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from idp.db import get_db
from idp.models import LogoutDelivery
from idp.oidc.backchannel_worker import worker_for
from tests.e2e.live import sign_in
from tests.otp import oathtool_code

pytestmark = pytest.mark.e2e


def _signed_in_at(page, live, slug):
    page.goto(live.rps[slug])
    page.click("#rp-login")
    expect(page).to_have_url(re.compile(rf"^({live.issuer}|{live.rps[slug]})"))


def test_sign_out_at_the_idp_signs_out_of_all_four_demo_rps(live, page):
    page.goto(live.rps["emt"])
    page.click("#rp-login")
    sign_in(page, "somchai")
    expect(page.locator("#rp-user")).to_have_text("somchai")

    page.goto(live.rps["einvoice"])  # needs mfa: the soft token; asks consent
    page.click("#rp-login")
    page.fill("#totp-code", oathtool_code(live.totp_secret))
    page.click("#totp-submit")
    page.click("#consent-allow")
    expect(page.locator("#rp-user")).to_have_text("somchai")

    for slug in ("search", "records"):
        page.goto(live.rps[slug])
        page.click("#rp-login")
        if slug == "records":
            page.click("#consent-allow")
        expect(page.locator("#rp-user")).to_have_text("somchai")

    page.goto(live.issuer + "/account?lang=en")
    expect(page.locator("#session-list .session")).to_have_count(1)
    expect(page.locator("#session-list .session-apps")).to_contain_text("e-Invoice")
    page.click("#sign-out")
    worker_for(live.app).wait_idle()  # the logout tokens were POSTed (or failed)
    with get_db(live.app).factory() as db:
        rows = list(db.scalars(select(LogoutDelivery)))
        assert len(rows) == 4 and all(r.delivered_at is not None for r in rows), [
            (r.client_id, r.last_error) for r in rows
        ]

    for slug in ("emt", "einvoice", "search", "records"):
        page.goto(live.rps[slug])
        expect(page.locator("#rp-login")).to_be_visible()
        expect(page.locator("#rp-user")).to_have_count(0)
