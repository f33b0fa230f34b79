"""WCAG 2.1 AA in headless Chromium (issue 9): axe-core on every page type of the IdP,
in Thai and in English, and the sign-in form used with the keyboard alone.

axe-core comes bundled with the ``axe-playwright-python`` package. It is injected with
``page.evaluate`` (the DevTools protocol), which the page's CSP (``script-src 'self'``)
does not govern, so the pages are checked exactly as people get them: no
``bypass_csp``, which would also let inline styles apply that browsers block.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import axe_playwright_python
import pytest
from flask import template_rendered
from playwright.sync_api import expect
from sqlalchemy import select

from idp import PACKAGE_DIR
from idp.admin.accounts import set_operator
from idp.db import get_db
from idp.enrollment import review
from idp.models import MfaFactor, ServiceRequest, User
from idp.orgs import services as orgs
from tests.e2e.live import ORG_IDENTIFIER, sign_in
from tests.factories import mail_text, make_user
from tests.otp import oathtool_code

# What axe checks is the markup, the same on either database: like the other browser
# walks it runs on the SQLite pass only (tests/conftest.py).
pytestmark = pytest.mark.e2e

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}
DECIDE_BY_FETCH = """async () => {
    const button = document.querySelector("#decide");
    const sent = await fetch(button.form.action, {
        method: "POST", body: new FormData(button.form, button), redirect: "manual",
    });
    return sent.status;
}"""
AXE_RUN = """opts => Promise.race([
    axe.run(document, opts),
    new Promise(resolve => setTimeout(() => resolve("axe-timeout"), 30000)),
])"""
LOCALES = {"th": "th-TH", "en": "en-GB"}
# Pages that the walk does not visit, and why.
NOT_WALKED = {"dev/outbox.html"}  # development only: IDP_DEV_OUTBOX, refused in production


def page_templates() -> set[str]:
    """Every page of the IdP: a template outside layouts/ that extends another
    (partials and mail bodies do not)."""
    root = PACKAGE_DIR / "templates"
    pages = set()
    for path in root.rglob("*.html"):
        extends = re.search(r"{%-?\s*extends\s", path.read_text(encoding="utf-8"))
        if extends and path.parent.name not in ("layouts", "mail"):  # mails: not pages
            pages.add(path.relative_to(root).as_posix())
    return pages - NOT_WALKED


class Walk:
    """Visits pages in one language, runs axe-core on each and keeps what it finds."""

    def __init__(self, live, browser, lang: str) -> None:
        self.live, self.browser, self.lang = live, browser, lang
        self.violations: list[str] = []
        self.checked: list[str] = []
        self.rendered: set[str] = set()
        template_rendered.connect(self._rendered, live.app)

    def _rendered(self, sender, template, context, **extra) -> None:
        self.rendered.add(template.name)

    def context(self):
        return self.browser.new_context(locale=LOCALES[self.lang])

    def check(self, page, name: str) -> None:
        """axe-core on the page as it is now; serious and critical violations are
        recorded with what is needed to find them: page, URL, rule, elements."""
        page.wait_for_load_state()
        self.checked.append(name)
        lang = page.evaluate("document.documentElement.lang")
        if lang != self.lang:
            self.violations.append(f"{name} {page.url}: <html lang={lang!r}>, not {self.lang}")
        result = self._axe(page)
        for v in result["violations"]:
            if v["impact"] not in FAILING_IMPACTS:
                continue
            nodes = "".join(
                f"\n    at {' '.join(n['target'])}: {_first_reason(n)}" for n in v["nodes"][:8]
            )
            more = f"\n    (+{len(v['nodes']) - 8} more)" if len(v["nodes"]) > 8 else ""
            self.violations.append(
                f"{name} {page.url}\n  {v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})"
                f"{nodes}{more}"
            )

    def _axe(self, page) -> dict:
        """axe-core's result for the page. ``page.evaluate`` has no timeout of its own,
        and a CI run once sat for its whole 15 minutes in one axe run of this walk with
        Chromium idle: the run races a 30 s timer, and a page whose run timed out is
        checked once more (a second timeout fails the test with that reason)."""
        options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
        for _attempt in (1, 2):
            page.evaluate(AXE_SOURCE)
            result = page.evaluate(AXE_RUN, options)
            if result != "axe-timeout":
                return result
        raise AssertionError(f"axe-core did not finish on {page.url} twice in a row")

    def goto(self, page, path: str, name: str) -> None:
        page.goto(self.live.issuer + path)
        self.check(page, name)


def _first_reason(node: dict) -> str:
    """axe's explanation for one element, e.g. the two colours and their ratio."""
    lines = [ln.strip() for ln in (node.get("failureSummary") or "").splitlines()]
    return next((ln for ln in lines if ln and not ln.startswith("Fix ")), "")


def _arrange(live) -> None:
    """What the walk needs beyond the e2e data: somchai is an operator, in a second
    organisation (the organisation choice) and has a security key too (the choice of
    factors); chai's soft token expires soon (the renewal offer); dara has only a
    security key; lek is locked out."""
    now = int(time.time())
    with get_db(live.app).factory() as db:
        somchai = db.scalar(select(User).where(User.username_key == "somchai"))
        chai = db.scalar(select(User).where(User.username_key == "chai"))
        set_operator(db, somchai.id, True, via="cli")
        other = orgs.create_org(
            db,
            kind="company",
            identifier="0105548001239",
            name_th="บริษัท ไทยค้าขาย จำกัด",
            name_en="Thai Trading Co., Ltd.",
        )
        orgs.allow_client(db, other.id, live.einvoice_client_id)
        orgs.add_member(db, other.id, somchai)
        dara = make_user(db, "dara", name="Dara Keyholder")
        for n, user in enumerate((somchai, dara)):
            db.add(
                MfaFactor(
                    user_id=user.id,
                    kind="webauthn",
                    name="Security key",
                    status="active",
                    credential_id=f"walk-credential-{n}",
                    public_key=b"\x00",
                    uv_capable=True,
                    created_at=now,
                )
            )
        db.scalar(
            select(MfaFactor).where(MfaFactor.user_id == chai.id, MfaFactor.kind == "totp")
        ).expires_at = now + 10 * 86400
        # Issue 10: tam never accepted the personal-data notice; pim is a temporary
        # member (the search RP requires a verified one).
        make_user(db, "tam", name="Tam Newcomer", notice_version=None)
        make_user(
            db,
            "pim",
            name="Pim Temporary",
            membership_status="temporary",
            membership_expires_at=now + 30 * 86400,
        )
        lek = make_user(db, "lek", name="Lek Locked")
        lek.failed_logins, lek.locked_until = 5, now + 300
        # The review queue: a staff verification with its card, a duplicate document.
        item = review.open_item(db, kind=review.STAFF_VERIFICATION, user_id=chai.id)
        review.attach(db, item, "staff_card", b"%PDF-1.4\n%%EOF\n", "card.pdf")
        review.open_item(
            db, kind=review.DOCUMENT_CHECK, user_id=lek.id, flags=("document_on_file",)
        )
        db.commit()


def _invitation_link(live, address: str) -> str:
    mail = mail_text(live.inbox.to(address)[-1])
    return re.search(r"(/invite/[\w-]+)", mail).group(1)


def _login_at(walk, page, rp: str) -> None:
    page.goto(walk.live.rps[rp])
    page.click("#rp-login")
    expect(page.locator("#password")).to_be_visible()


def _walk_somchai(walk, page) -> None:
    """Anonymous pages, then an admin's and operator's session, ending signed out."""
    live = walk.live
    walk.goto(page, "/no/such/page", "error 404")
    walk.goto(page, "/logout", "logout confirm")
    for name in ("help", "privacy", "terms"):
        walk.goto(page, f"/{name}", f"{name} page")
    walk.goto(page, "/account/recover", "password recovery")

    _login_at(walk, page, "einvoice")
    walk.check(page, "sign-in")
    sign_in(page, "somchai", "not the password")
    expect(page.locator("#login-error")).to_be_visible()
    walk.check(page, "sign-in error")
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    sign_in(page, "somchai")
    walk.check(page, "error CSRF")

    _login_at(walk, page, "einvoice")
    sign_in(page, "somchai")
    expect(page.locator("#totp-code")).to_be_visible()
    walk.check(page, "step-up choice (app, key, recovery code)")
    page.fill("#totp-code", "000000")
    page.click("#totp-submit")
    walk.check(page, "step-up error")
    page.fill("#totp-code", oathtool_code(live.totp_secret))
    page.click("#totp-submit")
    walk.check(page, "organisation select")
    page.click(f"#org-{ORG_IDENTIFIER}")
    walk.check(page, "consent")
    page.click("#consent-allow")
    expect(page.locator("#rp-user")).to_have_text("somchai")

    walk.goto(page, "/account", "account")
    walk.goto(page, "/login", "sign-in: password again (name fixed)")
    walk.goto(page, "/account/email", "email change")
    page.fill("#email", "somchai.new@example.org")
    page.click("#send-code")
    walk.check(page, "email change: code sent")
    walk.goto(page, "/account/security", "security page")
    walk.goto(page, "/account/security/totp", "add an authenticator app")
    walk.goto(page, "/account/security/webauthn", "add a security key")

    page.goto(live.issuer + "/account")
    page.click("a.org-console")
    walk.check(page, "org console")
    for address in ("new.person@example.org", "dara@example.org"):
        page.fill("#invite-email", address)
        page.click("#invite")
    walk.check(page, "org console: invitations sent")
    page.click("#profile-link")
    walk.check(page, "org profile")
    page.goto(live.issuer + "/account")
    page.click("a.org-console")
    page.click("#audit-link")
    walk.check(page, "org audit")

    walk.goto(page, _invitation_link(live, "new.person@example.org"), "invitation: new account")
    walk.goto(page, _invitation_link(live, "dara@example.org"), "invitation: other account")

    walk.goto(page, "/operator", "operator: organisations")
    page.click(f"#org-{ORG_IDENTIFIER} a")
    walk.check(page, "operator: organisation")
    page.click("#suspend")
    walk.check(page, "confirmation (suspend)")
    page.click("#confirm-cancel")
    walk.goto(page, "/operator/people?q=somchai", "operator: people")
    walk.goto(page, "/operator/clients", "operator: clients and rights")
    walk.goto(page, "/operator/audit", "operator: audit")
    _walk_reviews(walk, page)

    page.goto(live.issuer + "/account")
    page.click("#sign-out")
    walk.check(page, "logged out")

    walk.goto(page, _invitation_link(live, "dara@example.org"), "invitation: sign in to accept")
    page.goto(live.issuer + "/login")
    sign_in(page, "lek")
    walk.check(page, "lockout")


def _walk_reviews(walk, page) -> None:
    """The operator review queue: the queue, an item, a refused decision (no reason),
    and the 409 page of an item another tab decided meanwhile."""
    walk.goto(page, "/operator/reviews", "operator: review queue")
    page.click("#review-table tbody tr:first-child a")
    walk.check(page, "operator: review item")
    page.check("#decision-reject")
    page.click("#decide")
    walk.check(page, "operator: review item, reason missing")
    item_url = page.url.removesuffix("/decide")
    page.goto(item_url)
    # Someone else approves it meanwhile: the same form sent by fetch from this page (a
    # second tab for it once left a CI run waiting on Chromium for 15 minutes).
    page.evaluate(DECIDE_BY_FETCH)
    with page.expect_navigation() as decided:
        page.click("#decide")
    assert decided.value.status == 409
    walk.check(page, "operator: review decided already (409)")


def _walk_alice(walk, page) -> None:
    """No second factor: an emailed code, then setting up an authenticator app."""
    live = walk.live
    _login_at(walk, page, "search")
    sign_in(page, "alice")
    walk.check(page, "step-up: email code")
    page.click("#email-send")
    expect(page.locator("#email-sent")).to_be_visible()
    walk.check(page, "step-up: email code sent")
    code = re.search(r"\b(\d{6})\b", mail_text(live.inbox.to("alice@example.org")[-1]))
    page.fill("#email-code", code.group(1))
    page.click("#email-submit")
    expect(page.locator("#rp-user")).to_have_text("alice")
    # Issue 10: the search RP shows the membership and the registry's verified_claims.
    expect(page.locator("#rp-verified-claims")).to_be_visible()
    expect(page.locator("#rp-member-state")).to_be_visible()

    page.goto(live.rps["einvoice"])
    page.click("#rp-login")
    walk.check(page, "enrolment start (app or key)")
    page.click("#enrol-start")
    walk.check(page, "enrolment: TOTP QR code")
    page.fill("#totp-code", "000000")
    page.click("#totp-confirm")
    walk.check(page, "enrolment: TOTP error")
    page.fill("#totp-code", oathtool_code(page.locator("#totp-secret").inner_text()))
    page.click("#totp-confirm")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    walk.check(page, "recovery codes")


def _walk_chai(walk, page) -> None:
    """A member without the right: the soft-token renewal offer, then no access."""
    _login_at(walk, page, "einvoice")
    sign_in(page, "chai")
    walk.check(page, "step-up: TOTP only")
    page.fill("#totp-code", oathtool_code(walk.live.chai_secret))
    page.click("#totp-submit")
    walk.check(page, "TOTP renewal offer")
    page.click("#renew-later")
    expect(page.locator("#no-access")).to_be_visible()
    walk.check(page, "no access")


def _walk_registration(walk, page) -> None:
    """The people's registration wizard (issue 10): every step, its errors, the
    registry down, the welcome, "verify now" and the wizard's dead ends."""
    from tests.e2e.registration_steps import (
        MALEE,
        code_from,
        fill_details,
        fill_identity,
        fill_registry,
    )

    email = f"malee.{walk.lang}@example.org"
    person = {
        **MALEE,
        "national_id": MALEE["national_id"] if walk.lang == "th" else "1100800123996",
    }
    if walk.lang != "th":  # the other fixture person of the demo registry
        person.update(given_name_th="นภา", family_name_th="แสงทอง", birthdate="2000-12-31")
    walk.goto(page, "/register", "register: start")
    page.click("#register-person")
    page.click("#identity-next")
    expect(page.locator("#error-summary")).to_be_visible()
    walk.check(page, "register: who you are, with errors")
    fill_identity(page, person, email)
    expect(page.locator("#registry-check")).to_be_visible()
    walk.check(page, "register: prove who you are")
    registry_app = walk.live.registry.app
    walk.live.registry.app = lambda environ, start: (start("503 Unavailable", []), [b""])[1]
    try:
        fill_registry(page, person)
        expect(page.locator("#registry-down")).to_be_visible()
        walk.check(page, "register: registry not reachable")
    finally:
        walk.live.registry.app = registry_app
    page.click("#registry-retry")
    fill_registry(page, person)
    expect(page.locator("#details-submit")).to_be_visible()
    walk.check(page, "register: your details")
    fill_details(page, person, code_from(walk.live.inbox, email))
    expect(page.locator("#welcome-membership")).to_be_visible()
    walk.check(page, "register: welcome")
    walk.goto(page, "/register/details", "register: already finished")
    walk.goto(page, "/account/verify/registry", "register: verify now")
    walk.goto(page, "/register/submitted", "register: submitted")
    walk.goto(page, "/register/resume/no-such-link", "register: resume link unusable")


def _walk_dara(walk, page) -> None:
    """Only a security key; an invitation for an existing account."""
    _login_at(walk, page, "einvoice")
    sign_in(page, "dara")
    expect(page.locator("#webauthn-start")).to_be_visible()
    walk.check(page, "step-up: WebAuthn")
    walk.goto(page, _invitation_link(walk.live, "dara@example.org"), "invitation: join")


def _walk_password(walk, page) -> None:
    """Issue 11: a person an operator made chooses a new password during a sign-in to
    eMT (MISSION B2), then changes it and edits their details on /account."""
    name = f"pim{walk.lang}"
    with get_db(walk.live.app).factory() as db:
        if db.scalar(select(User).where(User.username_key == name)) is None:
            make_user(db, name, must_change_password=True)
    _login_at(walk, page, "emt")
    sign_in(page, name)
    expect(page.locator("#password-new-form")).to_be_visible()
    walk.check(page, "forced password change")
    page.fill("#new_password", "short")
    page.fill("#confirm_password", "short")
    page.click("#password-new-submit")
    walk.check(page, "forced password change: error")
    page.fill("#new_password", "a passphrase of my own")
    page.fill("#confirm_password", "a passphrase of my own")
    page.click("#password-new-submit")
    expect(page.locator("#rp-user")).to_have_text(name)
    walk.goto(page, "/account/password", "change password")
    page.fill("#current_password", "not the password")
    page.fill("#new_password", "another passphrase")
    page.fill("#confirm_password", "another passphrase")
    page.click("#change-password-submit")
    walk.check(page, "change password: error")
    walk.goto(page, "/account/profile", "profile")
    page.fill("#phone_number", "12ab")
    page.click("#profile-save")
    walk.check(page, "profile: error")


def _walk_companies(walk, page) -> None:
    """Company registration (issue 10): the wizard anonymous, then alice signs in on the
    way, a refused upload, the submitted page, the pending console and, after a
    rejection, the correction form."""
    from idp.enrollment import review
    from idp.models import Organization, ReviewItem
    from tests.unit.orgs.test_documents import pdf

    live = walk.live
    walk.goto(page, "/register/company", "company: step 1")
    page.fill("#juristic_id", "0105557000001")
    page.click("#company-next")
    walk.check(page, "company: step 1 refused")
    page.fill("#juristic_id", JURISTIC_ID)
    page.fill("#name_th", "บริษัท ตรวจสอบ จำกัด")
    page.fill("#name_en", "Audit Walk Co., Ltd.")
    page.click("#company-next")
    walk.check(page, "company: step 2")
    page.check("#office-branch")
    page.click("#company-next")
    walk.check(page, "company: step 2 refused")
    page.fill("#branch_no", "00001")
    for field, value in {
        "address": "1 Silom Road",
        "district": "Bang Rak",
        "province": "Bangkok",
        "postcode": "10500",
        "contact_name": "Alice",
        "contact_email": "alice@walk.example",
        "contact_phone": "081 234 5678",
    }.items():
        page.fill(f"#{field}", value)
    page.click("#company-next")
    walk.check(page, "company: step 3, signed out")
    page.click("#company-sign-in")
    sign_in(page, "alice")
    walk.check(page, "company: step 3, signed in")
    page.click("#company-next")
    page.set_input_files(
        "#document", files=[{"name": "poa.pdf", "mimeType": "application/pdf", "buffer": b"MZ"}]
    )
    page.click("#company-submit")
    walk.check(page, "company: step 4 refused")
    page.set_input_files(
        "#document",
        files=[{"name": "poa.pdf", "mimeType": "application/pdf", "buffer": pdf()}],
    )
    page.click("#company-submit")
    walk.check(page, "company: submitted")
    with get_db(live.app).factory() as db:
        org = db.scalar(select(Organization).where(Organization.identifier == JURISTIC_ID))
        walk.goto(page, f"/orgs/{org.id}/admin", "company: console not approved")
        walk.goto(page, f"/register/company/{org.id}", "company: application waiting")
        somchai = db.scalar(select(User).where(User.username_key == "somchai"))
        item = db.scalar(select(ReviewItem).where(ReviewItem.org_id == org.id))
        with live.app.test_request_context():
            settings = live.app.extensions["idp_settings"]
            review.decide(db, settings, item.id, somchai.id, "reject", "Not signed.")
            db.commit()
        walk.goto(page, f"/register/company/{org.id}", "company: correction form")


JURISTIC_ID = "0105557000002"


def _walk_membership(walk, page) -> None:
    """Issue 10: the personal-data notice, a membership that is not enough for the
    search RP, the ways to verify, and the RP page with membership and verified_claims
    (alice is verified by the registry)."""
    _login_at(walk, page, "emt")
    sign_in(page, "tam")
    expect(page.locator("#notice-accept")).to_be_visible()
    walk.check(page, "personal-data notice")
    page.click("#notice-accept")
    expect(page.locator("#rp-user")).to_have_text("tam")
    page.context.clear_cookies()

    _login_at(walk, page, "search")
    sign_in(page, "pim")
    expect(page.locator("#membership-membership_insufficient")).to_be_visible()
    walk.check(page, "membership: verified required")
    page.click("#membership-verify")
    expect(page.locator("#verify-continue")).to_be_visible()
    walk.check(page, "verify your identity")


def _walk_proofing(walk, page) -> None:
    """The identity app (cross-device proofing): the desktop page with its QR code, the
    phone's page after cancelling at the demo provider, the desktop's result page."""
    page.goto(walk.live.issuer + "/login?next=/proofing/app")
    sign_in(page, "alice")
    expect(page.locator("#proofing-qr")).to_be_visible()
    walk.check(page, "identity app: QR code")
    tx = page.locator("input[name=tx]").get_attribute("value")
    phone = page.context.new_page()
    phone.goto(f"{walk.live.issuer}/proofing/app/t/{tx}")
    phone.click("#app-cancel")
    expect(phone.locator("#phone-result")).to_be_visible()
    walk.check(phone, "identity app: phone, cancelled")
    expect(page.locator("#proofing-result")).to_be_visible(timeout=20000)
    walk.check(page, "identity app: cancelled")


def _walk_staff(walk, page) -> None:
    """A staff applicant whom no directory found: the wizard's step 4 (the staff
    document) and their application page."""
    with get_db(walk.live.app).factory() as db:
        if db.scalar(select(User).where(User.username_key == "nid")) is None:
            make_user(
                db,
                "nid",
                email="nid@moc.example",
                member_type="staff",
                membership_status="temporary",
                agency="moc-dit",
            )
    page.goto(walk.live.issuer + "/login")
    sign_in(page, "nid")
    walk.goto(page, "/register/waiting", "registration: staff document")
    walk.goto(page, "/account/application", "account: staff application")


PAILIN_ID = "3100900123455"  # a valid check digit (13th) for the forgot-password walk


def _walk_lifecycle(walk, page) -> None:
    """Issue 11: the account page's new sections and pages (a service request, the
    person's data, closing the account), then forgot password for a person without a
    second factor (every step: pailin; alice has a soft token by now) and one with only
    a security key (the factor step)."""
    from idp.enrollment import pii
    from idp.enrollment.identity import check_national_id

    live = walk.live
    settings = live.app.extensions["idp_settings"]
    with get_db(live.app).factory() as db:
        if db.scalar(select(User).where(User.username_key == "pailin")) is None:
            make_user(db, "pailin")
        for username, number in (("pailin", PAILIN_ID), ("dara", "3700100123455")):
            user = db.scalar(select(User).where(User.username_key == username))
            for name, value in pii.seal(settings, check_national_id(number)).columns().items():
                setattr(user, name, value)
        db.commit()
    page.goto(live.issuer + "/login")
    sign_in(page, "alice")
    walk.check(page, "account: sessions, requests, data rights")
    walk.goto(page, "/account/requests/new?kind=lost_device", "service request: form")
    page.fill("#given_name", "Alice")
    page.fill("#family_name", "Walker")
    page.fill("#explanation", "My phone was stolen on the train.")
    page.click("#send-request")
    expect(page.locator("#request-form")).to_have_count(0)
    walk.check(page, "service request: submitted")
    with get_db(live.app).factory() as db:
        filed = db.scalar(select(ServiceRequest.id).order_by(ServiceRequest.id.desc()))
    walk.goto(page, f"/account/requests/{filed}", "service request: its state")
    walk.goto(page, "/account/data", "your data: download")
    walk.goto(page, "/account/close", "close the account: confirm")
    page.context.clear_cookies()

    for username, number in (("pailin", PAILIN_ID), ("dara", "3700100123455")):
        walk.goto(page, "/account/forgot", "forgot password: request")
        page.fill("#identifier", username)
        page.fill("#document", number)
        page.click("#forgot-submit")
        walk.check(page, "forgot password: code")
        mail = live.inbox.to(f"{username}@example.org")[-1]
        page.fill("#code", re.search(r"\b(\d{6})\b", mail_text(mail)).group(1))
        page.click("#code-submit")
        if username == "dara":
            expect(page.locator("#webauthn-start")).to_be_visible()
            walk.check(page, "forgot password: second factor")
            break
        walk.check(page, "forgot password: new password")
        page.fill("#password", "a new river boat lantern")
        page.fill("#password-confirm", "a new river boat lantern")
        page.click("#reset-submit")
        expect(page.locator("#reset-done")).to_be_visible()
        walk.check(page, "forgot password: done")


@pytest.mark.timeout(420)  # ~1 min alone, ~3 on a loaded machine: a hang fails sooner
@pytest.mark.parametrize("lang", ["th", "en"])
def test_every_page_type_has_no_serious_wcag21aa_violation(live, browser, lang):
    """WCAG 2.1 AA (issue 9): axe-core finds no serious or critical violation on any
    page type, each page declares the language it is in (WCAG 3.1.1), and the walk
    reaches every page template of the IdP."""
    _arrange(live)
    walk = Walk(live, browser, lang)
    for visit in (
        _walk_somchai,
        _walk_alice,
        _walk_chai,
        _walk_dara,
        _walk_password,
        _walk_companies,
        _walk_membership,
        _walk_proofing,
        _walk_registration,
        _walk_staff,
        _walk_lifecycle,
    ):
        context = walk.context()
        visit(walk, context.new_page())
        context.close()
    unvisited = page_templates() - walk.rendered
    assert not unvisited, f"pages the accessibility walk never reached: {sorted(unvisited)}"
    if walk.violations:
        pytest.fail(
            f"{len(walk.violations)} accessibility problems in {lang} "
            f"({len(walk.checked)} pages checked):\n" + "\n".join(walk.violations),
            pytrace=False,
        )


FOCUS_STYLE = """el => {
    const s = getComputedStyle(el);
    return {id: el.id, tag: el.tagName.toLowerCase(), type: el.type || '',
            controls: el.getAttribute('aria-controls') || '',
            focusVisible: el.matches(':focus-visible'),
            outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
            shadow: s.boxShadow !== 'none'};
}"""


def _tab(page) -> dict:
    """Press Tab; describe the element that has the focus now and how it shows it."""
    page.keyboard.press("Tab")
    return page.evaluate_handle("document.activeElement").evaluate(FOCUS_STYLE)


def _assert_focus_visible(focused: dict) -> None:
    assert focused["focusVisible"], f"{focused} does not match :focus-visible"
    assert focused["outline"] or focused["shadow"], f"no outline or box-shadow on {focused}"


def test_sign_in_form_works_with_the_keyboard_alone(live, page):
    """WCAG 2.1.1 (keyboard), 2.4.3 (focus order), 2.4.7 (focus visible), 3.3.1 and
    4.1.3 (the error is announced): Tab reaches username, password, the show-password
    toggle, "Forgot password?" and the button in that order, each with a visible focus
    indicator; the toggle works from the keyboard; Enter sends the form."""
    page.goto(live.issuer + "/login")
    for _ in range(20):  # past the skip link and the language switch
        focused = _tab(page)
        if focused["id"] == "username":
            break
    else:
        pytest.fail("Tab never reached the username field")
    _assert_focus_visible(focused)
    page.keyboard.type("somchai")

    focused = _tab(page)
    assert focused["id"] == "password", focused
    _assert_focus_visible(focused)
    page.keyboard.type("not the password")

    toggle = _tab(page)
    assert toggle["tag"] == "button" and toggle["type"] == "button", toggle
    assert toggle["controls"] == "password", toggle
    _assert_focus_visible(toggle)
    page.keyboard.press("Space")
    expect(page.locator("#password")).to_have_attribute("type", "text")
    expect(page.locator(".idp-show-password")).to_be_focused()
    expect(page.locator(".idp-show-password")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#password")).to_have_attribute("type", "password")

    focused = _tab(page)  # "Forgot password?" sits under the password (issue 11)
    assert focused["id"] == "forgot-link", focused
    _assert_focus_visible(focused)

    focused = _tab(page)
    assert focused["id"] == "sign-in", focused
    _assert_focus_visible(focused)

    page.focus("#password")
    page.keyboard.press("Enter")  # sends the form like the button
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    announced = error.get_attribute("role") == "alert" or error.evaluate(
        "el => el.contains(document.activeElement) || document.activeElement === el"
    )
    assert announced, "the sign-in error is neither role=alert nor focused"
