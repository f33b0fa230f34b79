"""Every mail is written in its recipient's language, subject included, as text and HTML
(issue 9, "Language"); read here from the real SMTP sink (RECIPES.md 6).

The recipient's language is the person's chosen locale, else IDP_DEFAULT_LOCALE; never
the language of the request that causes the mail: in these tests the page is always in
the other language (Accept-Language, which is not a choice the person made).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
import time_machine
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import select

from idp.admin import services as admin_services
from idp.jobs import run_jobs
from idp.mail import MailTemplateError, render_mail
from idp.mfa import services as mfa
from idp.models import Client, MfaFactor, User
from idp.oidc.acr import ACR_MFA_EMAIL
from idp.orgs import services as orgs
from tests.factories import (
    authorize_params,
    csrf_token,
    login,
    mail_html,
    mail_text,
    make_client,
    make_user,
    pkce_pair,
    query,
)
from tests.otp import oathtool_code
from tests.webauthn_soft import SoftAuthenticator

T0 = 1_800_000_000  # 15 Jan 2027 15:00 in Bangkok: Buddhist year 2570
OTHER = {"th": "en", "en": "th"}
THAI = re.compile(r"[\u0e00-\u0e7f]")
BRAND = {"th": "บริการยืนยันตัวตน", "en": "Sign-in service"}  # IDP_BRAND_NAME_TH / _EN


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


class _Blocks(HTMLParser):
    """The HTML part's lang, heading and paragraphs, as a reader sees their text."""

    def __init__(self) -> None:
        super().__init__()
        self.lang, self.heading, self.paragraphs, self._open = None, None, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in ("h1", "p"):
            self._open = [tag, ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag == self._open[0]:
            text = " ".join(self._open[1].split())
            if tag == "h1":
                self.heading = text
            else:
                self.paragraphs.append(text)
            self._open = None


def check_parts(subject: str, text: str, html: str, locale: str) -> None:
    """Both parts in ``locale``, saying the same thing paragraph by paragraph (so a code
    or link shown in one is in the other), the HTML part with its ``lang`` and the
    brand's name in that language as its heading."""
    blocks = _Blocks()
    blocks.feed(html)
    text_paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    assert blocks.lang == locale  # WCAG 3.1.1 for the HTML part
    assert blocks.heading == BRAND[locale]
    assert blocks.paragraphs == text_paragraphs
    if locale == "en":
        for part in (subject, text, html):
            assert not THAI.search(part), part
    else:
        assert THAI.search(subject)
        for paragraph in text_paragraphs:  # each sentence Thai (a code or link alone aside)
            assert THAI.search(paragraph) or re.fullmatch(r"\d{6}|https?://\S+", paragraph)


def read(mail, locale: str) -> str:
    """Check a received message (multipart/alternative, both parts in ``locale``);
    returns its text part."""
    assert mail.get_content_type() == "multipart/alternative"
    text = mail_text(mail)
    check_parts(mail["Subject"], text, mail_html(mail), locale)
    return text


def _prefer(client, locale: str) -> None:
    """The browser asks for ``locale`` (a guess, not the person's choice)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = locale


# --- Codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["th", "en"])
def test_sign_in_code_is_in_the_persons_language_not_the_pages(client, db, smtp_sink, locale):
    make_user(db, "alice", locale=locale)
    rp = make_client(db)
    db.scalar(select(Client).where(Client.client_id == rp.client_id)).min_acr = ACR_MFA_EMAIL
    db.commit()
    _prefer(client, OTHER[locale])
    _verifier, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge)))
    resp = login(client, "alice", flow=query(resp.headers["Location"])["flow"])
    while "/mfa/challenge" not in resp.headers["Location"]:
        resp = client.get(resp.headers["Location"])
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'lang="{OTHER[locale]}"' in page  # the page is in the other language
    flow = query(resp.headers["Location"])["flow"]
    client.post(f"/mfa/email/send?flow={flow}", data={"csrf_token": csrf_token(page)})
    (mail,) = smtp_sink.to("alice@example.org")
    code = re.search(r"\b(\d{6})\b", mail_text(mail)).group(1)
    subject = {"th": f"รหัสเข้าสู่ระบบของคุณ: {code}", "en": f"Your sign-in code: {code}"}
    assert mail["Subject"] == subject[locale]
    text = read(mail, locale)
    assert {"th": "ใช้ได้ภายใน 10 นาที", "en": "valid for 10 minutes"}[locale] in text


@pytest.mark.parametrize("locale", ["th", "en"])
def test_email_change_mails_are_in_the_owners_language(client, db, smtp_sink, locale):
    """The code to the new address and the notice to the old one: the account owner's
    language (the new address has no account of its own)."""
    make_user(db, "alice", locale=locale)
    _prefer(client, OTHER[locale])
    login(client, "alice")
    page = client.get("/account/email").get_data(as_text=True)
    client.post(
        "/account/email",
        data={"step": "start", "email": "alice.new@example.org", "csrf_token": csrf_token(page)},
    )
    (code_mail,) = smtp_sink.to("alice.new@example.org")
    code = re.search(r"\b(\d{6})\b", read(code_mail, locale)).group(1)
    assert (
        code_mail["Subject"]
        == {
            "th": "รหัสยืนยันอีเมลใหม่ของคุณ",
            "en": "Code to confirm your new email address",
        }[locale]
    )
    page = client.get("/account/email").get_data(as_text=True)
    done = client.post(
        "/account/email", data={"step": "confirm", "code": code, "csrf_token": csrf_token(page)}
    )
    assert done.status_code == 303
    (notice,) = smtp_sink.to("alice@example.org")
    text = read(notice, locale)
    assert (
        notice["Subject"]
        == {
            "th": "อีเมลของบัญชีของคุณถูกเปลี่ยน",
            "en": "The email address of your account was changed",
        }[locale]
    )
    assert "alice@example.org" in text and "alice.new@example.org" in text


def test_admin_changed_email_mails_use_the_owners_language_and_org_name(
    app, db, settings, smtp_sink
):
    """A7: both addresses are told, in the owner's language, with the organisation's
    name in that language; the admin's language does not matter."""
    boss = make_user(db, "boss", locale="th")
    ann = make_user(db, "ann", locale="en")
    make_user(db, "cy", locale="th")
    org = orgs.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก", name_en="Company A"
    )
    orgs.add_member(db, org.id, boss, role="admin")
    orgs.add_member(db, org.id, ann, role="admin")
    db.commit()
    with app.app_context():
        orgs.change_admin_email(
            db, settings, org.id, ann.id, "ann.new@example.org", actor=boss.id, as_operator=False
        )
    for address in ("ann@example.org", "ann.new@example.org"):
        (mail,) = smtp_sink.to(address)
        assert "by an administrator of Company A." in read(mail, "en")


# --- Invitations: the invitee's language, or the admin's ------------------------------


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    boss = make_user(db, "boss")
    make_user(db, "ben", locale="en")  # has an account and chose English
    factor, secret = mfa.start_totp(db, settings, boss, "Phone")
    factor.status = "active"
    org = orgs.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก", name_en="Company A"
    )
    orgs.add_member(db, org.id, boss, role="admin")
    db.commit()
    return {"org": org, "secret": secret}


def _invite_as_boss(client, world, page_locale: str, *emails: str) -> None:
    """boss chooses ``page_locale`` with the switch, signs in, steps up, invites."""
    client.set_cookie("idp_lang", page_locale, domain="localhost")
    login(client, "boss")
    console = f"/orgs/{world['org'].id}/admin"
    challenge = client.get(console).headers["Location"]
    page = client.get(challenge).get_data(as_text=True)
    client.post(
        challenge,
        data={
            "method": "totp",
            "code": oathtool_code(world["secret"]),
            "csrf_token": csrf_token(page),
        },
    )
    for email in emails:
        page = client.get(console).get_data(as_text=True)
        client.post(f"{console}/invite", data={"email": email, "csrf_token": csrf_token(page)})


def test_invitation_to_a_new_person_is_in_the_thai_admins_language_with_a_buddhist_date(
    client, world, smtp_sink
):
    with time_machine.travel(T0, tick=False):
        _invite_as_boss(client, world, "th", "newbie@example.org", "ben@example.org")
    (to_new,) = smtp_sink.to("newbie@example.org")
    assert to_new["Subject"] == "คำเชิญเข้าร่วม บริษัท ก"
    text = read(to_new, "th")
    # valid 72 hours: 18 Jan 2027 15:00 in Bangkok, Buddhist year 2570
    assert "ลิงก์นี้ใช้ได้ครั้งเดียว ภายใน 18 ม.ค. 2570 15:00 (Asia/Bangkok, UTC+07:00)" in text
    assert "2027" not in text
    assert re.search(r"http://localhost/invite/\S+", text)
    # ben has an account and chose English: his invitation is English, whoever sends it
    (to_ben,) = smtp_sink.to("ben@example.org")
    assert to_ben["Subject"] == "Invitation to Company A"
    assert "Jan 18, 2027, 3:00:00\u202fPM (Asia/Bangkok, UTC+07:00)" in read(to_ben, "en")


def test_invitation_to_a_new_person_is_in_the_english_admins_language_gregorian(
    client, world, smtp_sink
):
    with time_machine.travel(T0, tick=False):
        _invite_as_boss(client, world, "en", "newbie@example.org")
    (mail,) = smtp_sink.to("newbie@example.org")
    assert mail["Subject"] == "Invitation to Company A"
    text = read(mail, "en")
    assert "until Jan 18, 2027, 3:00:00\u202fPM (Asia/Bangkok, UTC+07:00)." in text
    assert "2570" not in text


def test_invitation_from_the_command_line_uses_the_deployment_default(app_factory, db, smtp_sink):
    """No page, no account: IDP_DEFAULT_LOCALE (here en)."""
    app = app_factory(smtp_url=smtp_sink.url, default_locale="en")
    settings = app.extensions["idp_settings"]
    org = orgs.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม", name_en="Dept")
    db.commit()
    from idp.orgs import invitations

    with app.app_context():
        invitations.invite(db, settings, org, "first@example.org", actor=None, role="admin")
    db.commit()
    (mail,) = smtp_sink.to("first@example.org")
    assert "You are invited as an administrator of the organisation." in read(mail, "en")


# --- Notices ----------------------------------------------------------------------------

FACTOR_SUBJECTS = {
    "totp": {"th": "มีการเพิ่มแอปยืนยันตัวตนใหม่", "en": "New authenticator app added"},
    "webauthn": {"th": "มีการเพิ่มกุญแจความปลอดภัยใหม่", "en": "New security key added"},
    "removed": {"th": "ปัจจัยยืนยันตัวตนถูกลบออกจากบัญชี", "en": "A sign-in factor was removed"},
}


@pytest.mark.parametrize("locale", ["th", "en"])
def test_factor_notices_are_in_the_persons_language(client, db, settings, smtp_sink, locale):
    alice = make_user(db, "alice", locale=locale)
    _prefer(client, OTHER[locale])
    login(client, "alice")
    csrf = csrf_token(client.get("/account").get_data(as_text=True))
    options = client.post(
        "/mfa/webauthn/register/options",
        data="{}",
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    credential = SoftAuthenticator().create(options.get_json(), "http://localhost")
    client.post(
        "/mfa/webauthn/register/verify?name=YubiKey",
        data=credential,
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    with client.application.app_context(), time_machine.travel(T0, tick=False):
        mfa.provision_totp(db, settings, alice, "Phone", actor=None, via="cli")
        totp = db.scalar(select(MfaFactor).where(MfaFactor.kind == "totp"))
        mfa.revoke_factor(db, settings, alice, totp.id, "lost_device")
    webauthn, added, removed = smtp_sink.to("alice@example.org")
    assert webauthn["Subject"] == FACTOR_SUBJECTS["webauthn"][locale]
    assert "(YubiKey)" in read(webauthn, locale)
    assert added["Subject"] == FACTOR_SUBJECTS["totp"][locale]
    when = {"th": "15 ม.ค. 2570 15:00", "en": "Jan 15, 2027, 3:00:00\u202fPM"}[locale]
    assert "(Phone)" in read(added, locale) and when in read(added, locale)
    assert removed["Subject"] == FACTOR_SUBJECTS["removed"][locale]
    reason = {"th": "เหตุผล: อุปกรณ์สูญหาย", "en": "Reason: Lost device"}[locale]
    assert reason in read(removed, locale)


@pytest.mark.parametrize("locale", ["th", "en"])
def test_expiry_reminder_is_in_the_persons_language_with_the_date(
    app, db, settings, smtp_sink, locale
):
    alice = make_user(db, "alice", locale=locale)
    with app.app_context(), time_machine.travel(T0, tick=False) as traveller:
        factor, _ = mfa.start_totp(db, settings, alice, "Phone")
        factor.status = "active"
        db.commit()
        traveller.move_to(factor.expires_at - 7 * 86400)
        assert run_jobs(db, settings)["totp_reminders_sent"] == 1
    (mail,) = smtp_sink.to("alice@example.org")
    text = read(mail, locale)
    # two years after T0: 14 Jan 2029 in Bangkok, Buddhist year 2572
    expected = {
        "th": "จะหมดอายุในอีก 7 วัน คือวันที่ 14 ม.ค. 2572",
        "en": "expires in 7 days, on Jan 14, 2029.",
    }
    assert expected[locale] in text


def test_organisation_status_goes_to_each_admin_in_their_own_language(app, db, settings, smtp_sink):
    """One decision, two admins: each reads it in their language, with the
    organisation's name in it."""
    ann, boss = make_user(db, "ann", locale="th"), make_user(db, "boss", locale="en")
    org = orgs.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก", name_en="Company A"
    )
    for admin in (ann, boss):
        orgs.add_member(db, org.id, admin, role="admin")
    db.commit()
    with app.app_context():
        org = admin_services.set_status(db, org.id, "suspend", None)
        db.commit()
        admin_services.notify_status(db, settings, org)
    (to_ann,) = smtp_sink.to("ann@example.org")
    (to_boss,) = smtp_sink.to("boss@example.org")
    assert to_ann["Subject"] == "บริษัท ก: ถูกระงับการใช้งาน"
    assert "ถูกระงับการใช้งานแอปพลิเคชันของ บริการยืนยันตัวตน" in read(to_ann, "th")
    assert to_boss["Subject"] == "Company A: suspended"
    assert "Company A (0105536092641) can no longer use" in read(to_boss, "en")


@pytest.mark.parametrize("locale", ["th", "en"])
def test_account_disabled_notice_is_in_the_persons_language(app, db, settings, smtp_sink, locale):
    alice = make_user(db, "alice", locale=locale)
    with app.app_context():
        mfa.notify(settings, alice, "account_status", active=False)  # as admin.people does
    (mail,) = smtp_sink.to("alice@example.org")
    assert (
        mail["Subject"]
        == {
            "th": "บัญชีของคุณถูกระงับการใช้งาน",
            "en": "Your account was disabled",
        }[locale]
    )
    read(mail, locale)


def test_unchosen_language_falls_back_to_the_deployment_default(app_factory, db, smtp_sink):
    """IDP_DEFAULT_LOCALE for a person who never chose (users.locale NULL)."""
    for default in ("th", "en"):
        app = app_factory(smtp_url=smtp_sink.url, default_locale=default)
        user = make_user(db, f"p{default}")
        assert db.get(User, user.id).locale is None
        with app.app_context():
            mfa.notify(app.extensions["idp_settings"], user, "account_status", active=True)
        read(smtp_sink.to(f"p{default}@example.org")[0], default)


# --- Every template, both languages -------------------------------------------------

SAMPLES = {
    "service_request_result": {
        "username": "alice",
        "kind": "lost_device",
        "approved": True,
        "result": "factors_reset",
        "reason": "",
        "request_url": "https://idp.example/account/requests/1",
    },
    "signin_code": {"code": "123456", "minutes": 10},
    "password_reset_code": {
        "username": "alice",
        "code": "246810",
        "minutes": 10,
        "link": "http://localhost/account/forgot/resume?ticket=t",
    },
    "password_reset_done": {"username": "alice", "when": T0},
    "email_change_code": {"username": "alice", "email": "a@x.org", "code": "654321", "minutes": 10},
    "email_changed": {
        "username": "alice",
        "old": "a@x.org",
        "new": "b@x.org",
        "by": "admin",
        "org": "Org",
        "when": T0,
    },
    "invitation": {
        "org": "Org",
        "link": "http://localhost/invite/tok",
        "expires_at": T0,
        "has_account": True,
        "role": "admin",
    },
    "totp_added": {"username": "alice", "name": "Phone", "when": T0},
    "webauthn_added": {"username": "alice", "name": "Key", "when": T0},
    "factor_removed": {
        "username": "alice",
        "kind": "webauthn",
        "name": "Key",
        "reason": "other",
        "when": T0,
    },
    "org_status": {"org": "Org", "identifier": "MOC-01", "status": "active"},
    "company_decision": {
        "username": "alice",
        "org": "Org",
        "identifier": "0105536092641",
        "decision": "reject",
        "reason": "Not signed.",
        "link": "https://idp.example/register/company/1",
    },
    "account_status": {"username": "alice", "active": True},
    "account_closure": {"username": "alice", "stage": "closed", "when": T0, "days": 30},
    "totp_expiring": {"username": "alice", "name": "Phone", "days": 1, "expires_at": T0},
    "membership_expiring": {"username": "alice", "days": 14, "expires_at": T0},
    # issue 10: registration and the staff decision
    "registration_started": {"link": "https://idp.example/register/resume/abc", "days": 7},
    "registration_code": {"code": "123456", "minutes": 10},
    "registration_account_exists": {},
    "registration_submitted": {},
    "registration_welcome": {"temporary": True, "expires_at": T0},
    "staff_decision": {
        "decision": "reject",
        "reason": "The card is unreadable.",
        "application_url": "https://idp.example/account/application",
    },
    # issue 11
    "password_changed": {"username": "alice", "when": T0},
}
MAIL_DIR = Path(__file__).resolve().parents[2] / "idp/templates/mail"


def test_every_mail_template_has_both_parts_and_a_sample_here():
    names = {p.stem for p in MAIL_DIR.glob("*.txt") if p.stem != "base"}
    assert names == set(SAMPLES)
    assert names == {p.stem for p in MAIL_DIR.glob("*.html") if p.stem not in ("base", "_parts")}


@pytest.mark.parametrize("locale", ["th", "en"])
@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_mail_renders_in_both_languages_with_the_same_parts(app, template, locale):
    with app.app_context():
        mail = render_mail(template, locale, **SAMPLES[template])
    check_parts(mail.subject, mail.text, mail.html, locale)
    for key in ("code", "link"):
        if key in SAMPLES[template]:
            assert SAMPLES[template][key] in mail.text and SAMPLES[template][key] in mail.html


def test_a_template_that_loses_its_link_in_one_part_is_refused(app):
    """The guard behind "no code or link only in one part": a template whose HTML part
    forgot the link does not render (a bug caught before any mail goes out)."""
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "mail/lost.txt": '{% extends "mail/base.txt" %}'
                    "{% block subject %}S{% endblock %}{% block body %}{{ link }}{% endblock %}",
                    "mail/lost.html": '{% extends "mail/base.html" %}'
                    "{% block body %}<p>no link</p>{% endblock %}",
                }
            ),
            app.jinja_env.loader,
        ]
    )
    with app.app_context(), pytest.raises(MailTemplateError):
        render_mail("lost", "en", link="http://localhost/invite/tok")
