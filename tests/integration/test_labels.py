"""The IdP speaks in labels, not codes, in Thai and English (issue 9 "Language"):
client-declared rights by their description on consent, /account and both consoles;
audit actions and values as translated labels (the CSV keeps the codes); plural forms;
words that are two Thai words told apart by context; default factor names translated;
"company" or "agency" by the organisation's kind; organisation names in the page's
language."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from sqlalchemy import select

from idp.mfa import services as mfa
from idp.models import MfaFactor
from idp.orgs import services
from tests.factories import confirm, csrf_token, login, make_client, make_user
from tests.integration.test_mfa import Flow
from tests.otp import oathtool_code

SUBMIT_TH, SUBMIT_EN = "ส่งใบกำกับภาษีอิเล็กทรอนิกส์", "Submit e-invoices"
VIEW_TH = "ดูใบกำกับภาษี"  # no English description: English pages fall back to it
SIAM_TH, SIAM_EN = "บริษัท สยามนำเข้า จำกัด", "Siam Import Co., Ltd."
DEPT_TH = "กรมการค้าต่างประเทศ"  # no English name


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    boss, ann, ben = make_user(db, "boss"), make_user(db, "ann"), make_user(db, "ben")
    cat = make_user(db, "cat")  # a member of the company without any right
    op = make_user(db, "op")
    op.is_operator = True
    secrets = {}
    for person in (boss, op):
        factor, secrets[person.username] = mfa.start_totp(db, settings, person, "Phone")
        factor.status = "active"
    rp = make_client(db, name="e-Invoice", skip_consent=False)
    submit = services.add_scope(
        db, rp.client_id, "einvoice:submit", description_th=SUBMIT_TH, description_en=SUBMIT_EN
    )
    view = services.add_scope(db, rp.client_id, "einvoice:view", description_th=VIEW_TH)
    bare = services.add_scope(db, rp.client_id, "einvoice:export")  # no description at all
    siam = services.create_org(
        db, kind="company", identifier="0105536092641", name_th=SIAM_TH, name_en=SIAM_EN
    )
    dept = services.create_org(db, kind="agency", identifier="DFT-01", name_th=DEPT_TH)
    for org in (siam, dept):
        services.allow_client(db, org.id, rp.client_id)
    services.add_member(db, siam.id, boss, role="admin")
    services.add_member(db, siam.id, ann)
    services.add_member(db, siam.id, cat)
    services.add_member(db, dept.id, ben)
    services.grant_scope(db, siam.id, ann.id, submit.id)
    db.commit()
    return {
        "rp": rp,
        "submit": submit,
        "view": view,
        "bare": bare,
        "siam": siam,
        "dept": dept,
        "boss": boss,
        "ann": ann,
        "secrets": secrets,
    }


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment (tags dropped, entities decoded, spaces joined)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _element(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag (no nesting of the
    same tag name inside, which holds for the lists and tables looked at here)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>', page)
    assert match, f"no #{element_id}"
    end = page.index(f"</{match.group(1)}>", match.end())
    return page[match.start() : end]


def _main_text(fragment: str) -> str:
    """What a person reads as the label: the text without the secondary parts (codes in
    <code>, notes in .idp-meta spans and small)."""
    fragment = re.sub(r"<code\b.*?</code>", " ", fragment, flags=re.S)
    fragment = re.sub(r"<small\b.*?</small>", " ", fragment, flags=re.S)
    fragment = re.sub(
        r'<span[^>]*class="[^"]*(?:idp-meta|muted|text-body-secondary)[^"]*"[^>]*>.*?</span>',
        " ",
        fragment,
        flags=re.S,
    )
    return _text(fragment)


def _step_up(client, world, username: str, path: str) -> None:
    """Sign in and pass a console's TOTP step-up."""
    login(client, username)
    resp = client.get(path)
    assert "/mfa/challenge" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    done = client.post(
        resp.headers["Location"],
        data={
            "method": "totp",
            "code": oathtool_code(world["secrets"][username]),
            "csrf_token": csrf_token(page),
        },
    )
    assert done.status_code in (302, 303)


def _consent_page(client, world, lang: str) -> tuple[Flow, str]:
    flow = Flow(client, world["rp"], scope="openid profile einvoice:submit einvoice:view")
    flow.login("ann")
    assert flow.resp.status_code == 200, flow.location
    assert 'id="consent-scopes"' in flow.resp.get_data(as_text=True)
    consent_url = flow.resp.request.path + "?" + flow.resp.request.query_string.decode()
    page = client.get(f"{consent_url}&lang={lang}").get_data(as_text=True)
    return flow, page


@pytest.mark.parametrize(
    ("lang", "submit", "other"), [("th", SUBMIT_TH, SUBMIT_EN), ("en", SUBMIT_EN, SUBMIT_TH)]
)
def test_consent_names_rights_by_their_description(client, db, world, lang, submit, other):
    # Consent lists only the rights held in the organisation (issue 9): ann holds both.
    services.grant_scope(db, world["siam"].id, world["ann"].id, world["view"].id)
    db.commit()
    _flow, page = _consent_page(client, world, lang)
    scopes = _element(page, "consent-scopes")
    shown = _text(scopes)
    assert submit in shown and other not in shown
    assert VIEW_TH in shown  # English page: the Thai description beats the code
    assert "einvoice:" not in shown  # a person never reads the codes
    standard = "ชื่อและชื่อผู้ใช้ของคุณ" if lang == "th" else "Your name and username"
    assert standard in shown


@pytest.mark.parametrize(("lang", "submit"), [("th", SUBMIT_TH), ("en", SUBMIT_EN)])
def test_account_lists_allowed_applications_by_right_description(client, world, lang, submit):
    flow, page = _consent_page(client, world, lang)
    allow = client.post(
        f"/consent?flow={re.search(r'flow=([^&]+)', flow.resp.request.query_string.decode())[1]}",
        data={"decision": "allow", "csrf_token": csrf_token(page)},
    )
    assert allow.status_code == 303
    account = client.get(f"/account?lang={lang}").get_data(as_text=True)
    allowed = _element(account, "consents")
    assert "e-Invoice" in allowed and submit in _text(allowed)
    assert "einvoice:" not in allowed and "openid" not in allowed


@pytest.mark.parametrize(
    ("lang", "submit", "grant"), [("th", SUBMIT_TH, "ให้สิทธิ์"), ("en", SUBMIT_EN, "Grant")]
)
def test_org_console_names_rights_by_description_codes_only_secondary(
    client, world, lang, submit, grant
):
    path = f"/orgs/{world['siam'].id}/admin"
    _step_up(client, world, "boss", path)
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    usage = _element(page, "seat-usage")
    assert submit in _main_text(usage) and "einvoice:submit" not in _main_text(usage)
    assert "einvoice:submit" in usage  # the code stays for the admin, as secondary text
    assert "einvoice:export" in _main_text(usage)  # nothing else to show: the code
    button = re.search(r'id="grant-boss-einvoice-submit"[^>]*>(.*?)</button>', page, re.S)[1]
    assert _text(button) == f"{grant} {submit}"


@pytest.mark.parametrize(
    ("lang", "one", "two"),
    [("en", "1 holder", "2 holders"), ("th", "ผู้ถือสิทธิ์ 1 คน", "ผู้ถือสิทธิ์ 2 คน")],
)
def test_holders_are_counted_with_plural_forms(client, db, world, lang, one, two):
    path = f"/orgs/{world['siam'].id}/admin"
    _step_up(client, world, "boss", path)
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    assert re.search(rf"{one}(?!s)", _text(_element(page, "seat-usage")))  # not "1 holders"
    services.grant_scope(db, world["siam"].id, world["boss"].id, world["submit"].id)
    db.commit()
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    usage = _text(_element(page, "seat-usage"))
    assert two in usage


@pytest.mark.parametrize(
    ("lang", "action", "values", "code_free"),
    [
        ("en", "Organisation's status changed", "pending approval → active", "Right granted"),
        ("th", "เปลี่ยนสถานะองค์กร", "รออนุมัติ → ใช้งานอยู่", "ให้สิทธิ์"),
    ],
)
def test_operator_audit_shows_actions_and_values_as_labels(
    client, db, world, lang, action, values, code_free
):
    pending = services.create_org(
        db, kind="agency", identifier="MOC-02", name_th="กรมทดสอบ", status="pending"
    )
    db.commit()
    _step_up(client, world, "op", "/operator/orgs")
    page = client.get("/operator/orgs").get_data(as_text=True)
    asked = client.post(
        f"/operator/orgs/{pending.id}/status",
        data={"action": "approve", "csrf_token": csrf_token(page)},
    )
    confirm(client, asked)  # approving is confirmed first (issue 9)
    trail = client.get(f"/operator/audit?lang={lang}").get_data(as_text=True)
    table = _element(trail, "audit-table")
    rows = [_main_text(r) for r in re.findall(r"<tr\b.*?</tr>", table, re.S)]
    status_row = next(r for r in rows if action in r)
    assert values in status_row and "op:org:status" not in status_row
    assert any(code_free in r for r in rows)  # the grant of the fixture
    header = _text(re.search(r"<tr\b.*?</tr>", table, re.S)[0])
    assert ("การเปลี่ยนแปลง" if lang == "th" else "Change") in header
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', trail))
    assert html.unescape(options["op:org:status"]) == action
    assert html.unescape(options["org:scope:granted"]) == code_free
    exported = client.get(f"/operator/audit.csv?lang={lang}").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    status = next(r for r in rows if r["action"] == "op:org:status")
    assert status["action_label"] == action and values in status["change"]
    assert '"before": "pending"' in status["details"]  # the machine column keeps codes


@pytest.mark.parametrize(
    ("lang", "action", "values"),
    [("en", "Right granted", "not held → held"), ("th", "ให้สิทธิ์", "ไม่ได้ถือสิทธิ์ → ถือสิทธิ์")],
)
def test_org_audit_shows_actions_and_values_as_labels(client, world, lang, action, values):
    path = f"/orgs/{world['siam'].id}/admin"
    _step_up(client, world, "boss", path)
    trail = client.get(f"{path}/audit?lang={lang}").get_data(as_text=True)
    rows = re.findall(r"<tr\b.*?</tr>", _element(trail, "audit-table"), re.S)
    granted = next(_main_text(r) for r in rows if "org:scope:granted" in r)
    assert action in granted and values in granted and "org:scope:granted" not in granted
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', trail))
    assert html.unescape(options["org:scope:granted"]) == action


def test_change_is_a_verb_on_the_account_page_and_a_noun_in_audit_tables(client, world):
    """pgettext: one English word, two Thai words."""
    login(client, "boss")
    account = client.get("/account?lang=th").get_data(as_text=True)
    link = re.search(r'id="change-email"[^>]*>([^<]+)</a>', account)[1]
    assert link.strip() == "เปลี่ยน"
    path = f"/orgs/{world['siam'].id}/admin"
    _step_up(client, world, "boss", path)
    trail = client.get(f"{path}/audit?lang=th").get_data(as_text=True)
    assert "<th>การเปลี่ยนแปลง</th>" in trail.replace('<th scope="col">', "<th>")


@pytest.mark.parametrize(
    ("org_key", "member", "expected", "wrong"),
    [
        ("siam", "cat", "Your company", "Your agency"),
        ("dept", "ben", "Your agency", "Your company"),
    ],
)
def test_no_access_words_the_organisation_by_its_kind(
    client, world, org_key, member, expected, wrong
):
    flow = Flow(client, world["rp"], scope="openid einvoice:view", ui_locales="en")
    flow.login(member)
    assert flow.resp.status_code == 403
    page = _text(flow.resp.get_data(as_text=True))
    name = SIAM_EN if org_key == "siam" else DEPT_TH
    assert f"{expected} {name} has not given you" in page and wrong not in page


def test_no_access_in_thai_says_company_or_agency(client, world):
    flow = Flow(client, world["rp"], scope="openid einvoice:view", ui_locales="th")
    flow.login("cat")
    assert f"บริษัทของคุณ ({SIAM_TH})" in _text(flow.resp.get_data(as_text=True))


@pytest.mark.parametrize(
    ("lang", "shown", "hidden"), [("en", SIAM_EN, None), ("th", SIAM_TH, None)]
)
def test_organisation_names_follow_the_page_language(client, world, lang, shown, hidden):
    login(client, "boss")
    account = client.get(f"/account?lang={lang}").get_data(as_text=True)
    console_link = re.search(r'class="[^"]*org-console[^"]*"[^>]*>([^<]+)</a>', account)[1]
    assert html.unescape(console_link).strip() == shown
    path = f"/orgs/{world['siam'].id}/admin"
    _step_up(client, world, "boss", path)
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    title = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)[1]
    assert _main_text(title) == shown


def test_english_page_falls_back_to_the_thai_name(client, world):
    flow = Flow(client, world["rp"], scope="openid einvoice:view", ui_locales="en")
    flow.login("ben")
    assert DEPT_TH in flow.resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "totp", "key"),
    [("th", "แอปยืนยันตัวตน", "กุญแจความปลอดภัย"), ("en", "Authenticator", "Security key")],
)
def test_default_factor_names_are_in_the_page_language(client, db, world, lang, totp, key):
    login(client, "ann")
    add_key = client.get(f"/account/security/webauthn?lang={lang}").get_data(as_text=True)
    assert re.search(r'id="webauthn-name"[^>]*value="([^"]*)"', add_key)[1] == key
    start = client.get(f"/account/security/totp?lang={lang}")
    page = start.get_data(as_text=True)
    assert re.search(r'name="name"[^>]*value="([^"]*)"', page)[1] == totp
    client.post(
        f"/account/security/totp?lang={lang}",
        data={"step": "start", "name": "", "csrf_token": csrf_token(page)},
    )
    made = db.scalars(select(MfaFactor).where(MfaFactor.user_id == world["ann"].id)).all()
    assert [f.name for f in made] == [totp]
