"""The people's registration wizard (issue 10 "People"; SECURITY.md R-01, R-07, R-08,
X-06, A-09/A-10): every step and every rejection path, with the demo registry as a
real HTTP server and mail through a real SMTP sink."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import select

from idp.dev.registry import serve_registry
from idp.models import (
    AuditEvent,
    IdentityVerification,
    NoticeAcceptance,
    Registration,
    ReviewItem,
    User,
)
from tests.factories import csrf_token, mail_text, make_user

T0 = 1_800_000_000
# The limiter's memory outlives one app: tests other than the limits' own get room.
ROOMY = {
    "registration_rate_limit": "10000 per minute",
    "registration_domain_limit": "10000 per minute",
}
SOMCHAI_ID = "1101700203450"
SOMCHAI = {"given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-04-12"}
EMAIL = "somchai@example.org"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def registry_url():
    with serve_registry() as url:
        yield url


@pytest.fixture
def app(app_factory, smtp_sink, registry_url):
    return app_factory(smtp_url=smtp_sink.url, registry_url=registry_url, **ROOMY)


@pytest.fixture(autouse=True)
def _english(client, db):
    client.set_cookie("idp_lang", "en", domain="localhost")
    # Migration 0012 publishes notice version 1; the PostgreSQL pass empties every
    # table between tests (tests/conftest.py KEEP_TABLES), so put it back there.
    from idp.models import PersonalDataNotice

    if db.get(PersonalDataNotice, 1) is None:
        db.add(
            PersonalDataNotice(
                version=1,
                text_th="ประกาศความเป็นส่วนตัว ฉบับทดสอบ สำหรับการลงทะเบียน",
                text_en="Personal data notice, test version, for registration.",
                published_at=T0,
            )
        )
        db.commit()


def _post(client, path, **data):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token(page)})


def step1(client, national_id=SOMCHAI_ID, email=EMAIL, **extra):
    data = {
        "member_type": "public",
        "document_kind": "national_id",
        "national_id": national_id,
        "email": email,
        "notice": "yes",
        **extra,
    }
    return _post(client, "/register/identity", **data)


def code_for(smtp_sink, address=EMAIL):
    """The newest registration code mailed to ``address`` (its subject ends in it)."""
    for mail in reversed(smtp_sink.to(address)):
        found = re.search(r": (\d{6})$", str(mail["Subject"]))
        if found:
            return found.group(1)
    raise AssertionError("no code mailed")


def details(client, code, **extra):
    data = {
        "action": "submit",
        "given_name_th": "สมชาย",
        "family_name_th": "ใจดี",
        "given_name_en": "Somchai",
        "family_name_en": "Jaidee",
        "gender": "male",
        "birthdate": "1985-04-12",
        "mobile": "0812345678",
        "code": code,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **extra,
    }
    return _post(client, "/register/details", **data)


def test_register_via_registry_lands_verified_and_signed_in(client, db, smtp_sink):
    """B1/C2: steps 1-3 through the population registry make a verified account."""
    assert client.get("/register").status_code == 200
    r = step1(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/prove")
    assert "/register/resume/" in mail_text(smtp_sink.to(EMAIL)[-1])
    r = _post(client, "/register/prove", action="registry", **SOMCHAI)
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/details")
    page = client.get("/register/details").get_data(as_text=True)
    assert "สมชาย" in page  # prefilled from step 2
    r = details(client, code_for(smtp_sink))
    assert r.status_code == 303, r.get_data(as_text=True)
    user = db.scalar(select(User).where(User.email_key == EMAIL))
    assert user.membership_status == "verified" and user.email_verified
    assert user.id_doc_masked == "x-xxxx-xxxxx-xx-0" and SOMCHAI_ID not in user.id_doc_cipher
    assert db.scalar(select(NoticeAcceptance).where(NoticeAcceptance.user_id == user.id))
    assert user.notice_version == 1
    proof = db.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert proof.method == "registry" and proof.outcome == "verified"
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "enrollment:account:created"))
    welcome = client.get(r.headers["Location"])
    assert welcome.status_code == 200 and "identity is verified" in welcome.get_data(as_text=True)
    assert client.get("/account").status_code == 200
    assert "Welcome" in smtp_sink.to(EMAIL)[-1]["Subject"]


def _fields(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("national_id", "words"),
    [
        ("1101700203451", "not valid: check the digits"),  # check digit altered
        ("110170020345", "13 digits"),  # wrong length
        ("11017002034ab", "13 digits"),  # not digits
    ],
)
def test_step1_refuses_a_bad_national_id_r01(client, db, national_id, words):
    """R-01: a changed digit, a wrong length or letters -> 400 with the field's error,
    and nothing stored."""
    r = step1(client, national_id=national_id)
    assert r.status_code == 400 and words in _fields(r)
    assert 'id="national_id" name="national_id"' in _fields(r)
    assert national_id not in _fields(r)  # the number is not echoed
    assert db.scalar(select(Registration)) is None


def test_step1_refuses_an_expired_passport_and_a_missing_notice(client, db):
    r = step1(
        client,
        document_kind="passport",
        passport_number="AB1234567",
        nationality="GB",
        passport_expiry="2020-01-01",
    )
    assert r.status_code == 400 and "passport has expired" in _fields(r)
    r = step1(client, notice="")
    assert r.status_code == 400 and "accept the personal data notice" in _fields(r)
    assert db.scalar(select(Registration)) is None


def test_passport_holder_registers_as_a_temporary_member(client, db, smtp_sink):
    """A6: a foreigner by passport (no registry): a temporary member, end date shown."""
    with time_machine.travel(T0, tick=False):
        r = step1(
            client,
            email="jane@example.org",
            document_kind="passport",
            passport_number="ab 1234567",
            nationality="GB",
            passport_expiry="2030-01-01",
        )
        assert r.status_code == 303
        page = _fields(client.get("/register/prove"))
        assert "registry-check" not in page  # the registry checks Thai IDs only
        r = _post(client, "/register/prove", action="continue")
        assert r.headers["Location"].endswith("/register/details")
        client.get("/register/details")  # mails the code
        r = details(client, code_for(smtp_sink, "jane@example.org"), given_name_en="Jane")
        assert r.status_code == 303
        user = db.scalar(select(User).where(User.email_key == "jane@example.org"))
        assert user.membership_status == "temporary"
        assert user.membership_expires_at == T0 + 60 * 86400
        assert user.id_doc_kind == "passport" and user.nationality == "GB"
        welcome = _fields(client.get("/register/welcome"))
        assert "temporary member until" in welcome


def _to_details(client, email=EMAIL, national_id=SOMCHAI_ID):
    assert step1(client, national_id=national_id, email=email).status_code == 303
    assert _post(client, "/register/prove", action="continue").status_code == 303
    return client.get("/register/details")


def test_wrong_expired_and_reused_codes_are_refused_a09_a10_r07(client, db, smtp_sink):
    with time_machine.travel(T0, tick=False) as clock:
        _to_details(client)
        code = code_for(smtp_sink)
        wrong = "000000" if code != "000000" else "111111"
        r = details(client, wrong)
        assert r.status_code == 400 and "not right" in _fields(r)
        clock.shift(601)  # older than 10 minutes
        r = details(client, code)
        assert r.status_code == 400 and "no longer be used" in _fields(r)
        assert db.scalar(select(User).where(User.email_key == EMAIL)) is None


def test_five_wrong_codes_spend_it_a10(client, db, smtp_sink):
    with time_machine.travel(T0, tick=False):
        _to_details(client)
        code = code_for(smtp_sink)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            details(client, wrong)
        r = details(client, code)
        assert r.status_code == 400 and "no longer be used" in _fields(r)


def test_resend_too_soon_is_429_and_sends_nothing_a10(client, db, smtp_sink):
    with time_machine.travel(T0, tick=False) as clock:
        _to_details(client)
        sent = len(smtp_sink.to(EMAIL))
        r = _post(client, "/register/details", action="resend")
        assert r.status_code == 429 and r.headers["Retry-After"] == "90"
        assert 'id="email-countdown"' in _fields(r)
        assert len(smtp_sink.to(EMAIL)) == sent
        old = code_for(smtp_sink)
        clock.shift(90)
        r = _post(client, "/register/details", action="resend")
        assert r.status_code == 303 and len(smtp_sink.to(EMAIL)) == sent + 1
        new = code_for(smtp_sink)
        if new != old:  # the old code no longer works
            assert details(client, old).status_code == 400
        assert details(client, new).status_code == 303


def test_duplicate_email_gets_the_same_path_and_the_owner_is_mailed_a09(client, db, smtp_sink):
    """No enumeration: the page is the same; the address's owner is told, no code and
    no resume link go out, so the wizard cannot be finished with their address."""
    make_user(db, "owner", email=EMAIL, locale="en")  # the owner reads English
    db.commit()
    r = step1(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/prove")
    mails = smtp_sink.to(EMAIL)
    assert len(mails) == 1 and "already have an account" in mails[0]["Subject"]
    assert "/register/resume/" not in mail_text(mails[0])
    _post(client, "/register/prove", action="continue")
    page = client.get("/register/details")
    assert page.status_code == 200 and "We sent a 6-digit code" in _fields(page)
    assert len(smtp_sink.to(EMAIL)) == 1  # no code to the owner's address


def test_duplicate_document_ends_generic_and_flags_an_operator_r01(client, db, smtp_sink):
    from idp.enrollment import pii
    from idp.enrollment.identity import check_national_id

    owner = make_user(db, "owner")
    settings = client.application.extensions["idp_settings"]
    for name, value in pii.seal(settings, check_national_id(SOMCHAI_ID)).columns().items():
        setattr(owner, name, value)
    db.commit()
    page = _to_details(client, email="other@example.org")
    assert page.status_code == 200
    r = details(client, code_for(smtp_sink, "other@example.org"))
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/submitted")
    assert "Check your email" in _fields(client.get("/register/submitted"))
    assert db.scalar(select(User).where(User.email_key == "other@example.org")) is None
    item = db.scalar(select(ReviewItem).where(ReviewItem.kind == "document_check"))
    assert item.user_id == owner.id and item.flags == ["document_on_file"]
    assert "received your registration" in mail_text(smtp_sink.to("other@example.org")[-1])


def test_double_submission_of_the_final_step_makes_one_account(client, db, smtp_sink):
    _to_details(client)
    code = code_for(smtp_sink)
    page = _fields(client.get("/register/details"))
    data = {
        "action": "submit",
        "given_name_th": "สมชาย",
        "family_name_th": "ใจดี",
        "given_name_en": "Somchai",
        "family_name_en": "Jaidee",
        "gender": "male",
        "birthdate": "1985-04-12",
        "code": code,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "csrf_token": csrf_token(page),
    }
    public_id = db.scalar(select(Registration.public_id))
    first = client.post("/register/details", data=data)
    assert first.status_code == 303
    # The same browser sends it again with the registration still in a second tab.
    with client.session_transaction() as s:
        s["enrollment.registration"] = public_id
    second = client.post("/register/details", data=data)
    assert second.status_code in (404, 409)
    assert len(list(db.scalars(select(User).where(User.email_key == EMAIL)))) == 1


def test_a_proof_of_other_details_does_not_verify_the_account_X04(client, db, smtp_sink):
    """The registry confirmed สมชาย ใจดี born 1985-04-12; the person then typed another
    birthdate in step 3: the proof is not about this account, which stays temporary."""
    step1(client)
    _post(client, "/register/prove", action="registry", **SOMCHAI)
    client.get("/register/details")
    assert details(client, code_for(smtp_sink), birthdate="1986-04-12").status_code == 303
    user = db.scalar(select(User).where(User.email_key == EMAIL))
    assert user.membership_status == "temporary"


def test_registry_down_offers_try_later_or_temporary(app_factory, smtp_sink, db):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    app = app_factory(
        smtp_url=smtp_sink.url, registry_url=f"http://127.0.0.1:{port}/check", **ROOMY
    )
    client = app.test_client()
    client.set_cookie("idp_lang", "en", domain="localhost")
    step1(client)
    r = _post(client, "/register/prove", action="registry", **SOMCHAI)
    assert r.status_code == 503 and "not reachable" in _fields(r)
    assert 'id="registry-temporary"' in _fields(r)
    row = db.scalar(select(IdentityVerification))
    assert row.outcome == "unavailable" and row.registration_id is not None
    r = _post(client, "/register/prove", action="continue")
    assert r.headers["Location"].endswith("/register/details")


def test_registry_no_match_is_a_field_error_and_recorded(client, db):
    step1(client)
    r = _post(
        client, "/register/prove", action="registry", **{**SOMCHAI, "birthdate": "1985-04-13"}
    )
    assert r.status_code == 400 and "did not confirm" in _fields(r)
    row = db.scalar(select(IdentityVerification))
    assert row.outcome == "not_verified" and row.reason == "no_match"


def test_resume_from_the_emailed_link_in_a_fresh_browser(app, client, db, smtp_sink):
    """A registration survives closing the browser: the link takes it up elsewhere."""
    step1(client)
    _post(client, "/register/prove", action="continue")
    link = re.search(r"(http://\S+/register/resume/\S+)", mail_text(smtp_sink.to(EMAIL)[0]))
    fresh = app.test_client()
    fresh.set_cookie("idp_lang", "en", domain="localhost")
    r = fresh.get(link.group(1).replace("http://localhost", ""))
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/details")
    assert fresh.get("/register/details").status_code == 200
    assert fresh.get("/register/resume/not-a-token").status_code == 404


def test_resume_link_dies_after_the_registration_days_r07(app, client, db, smtp_sink):
    with time_machine.travel(T0, tick=False) as clock:
        step1(client)
        link = re.search(r"/register/resume/\S+", mail_text(smtp_sink.to(EMAIL)[0])).group(0)
        clock.shift(7 * 86400)
        fresh = app.test_client()
        assert fresh.get(link).status_code == 404
        assert client.get("/register/prove").status_code == 404  # nothing keeps it alive


def test_another_browser_with_someones_registration_id_gets_404_r08(app, client, db):
    step1(client)
    other = app.test_client()
    assert other.get("/register/prove").status_code == 404
    assert other.get("/register/details").status_code == 404
    with other.session_transaction() as s:
        s["enrollment.registration"] = "someone-elses-guess"
    assert other.get("/register/details").status_code == 404


def test_registration_posts_are_rate_limited_per_ip_r08(app_factory, smtp_sink):
    app = app_factory(
        smtp_url=smtp_sink.url,
        registration_rate_limit="3 per minute",
        registration_domain_limit="9 per minute",
    )
    client = app.test_client()
    client.set_cookie("idp_lang", "en", domain="localhost")
    codes = [step1(client, national_id="1").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert "Too many attempts" in step1(client).get_data(as_text=True)


def test_registration_posts_are_rate_limited_per_email_domain_r08(app_factory, smtp_sink):
    app = app_factory(
        smtp_url=smtp_sink.url,
        registration_domain_limit="2 per minute",
        registration_rate_limit="9 per minute",
    )
    client = app.test_client()
    codes = [
        step1(client, national_id="1", email=f"p{i}@flood.example").status_code for i in range(3)
    ]
    assert codes == [400, 400, 429]
    assert step1(client, national_id="1", email="p@other.example").status_code == 400


def test_verify_now_makes_a_temporary_member_verified(client, db, smtp_sink):
    """The "verify now" page of a signed-in temporary member, through the registry."""
    with time_machine.travel(T0, tick=False):
        _to_details(client)
        assert details(client, code_for(smtp_sink)).status_code == 303
        user = db.scalar(select(User).where(User.email_key == EMAIL))
        assert user.membership_status == "temporary"
        r = _post(client, "/account/verify/registry", **SOMCHAI)
        assert r.status_code == 200 and "identity is verified" in _fields(r)
        db.refresh(user)
        assert user.membership_status == "verified" and user.membership_expires_at is None


def test_login_page_links_to_register_with_the_flow(client):
    page = _fields(client.get("/login?flow=abc"))
    assert 'id="register-link"' in page and "/register" in page


def test_staff_of_an_agency_requiring_it_enrols_a_soft_token_last(client, db, smtp_sink):
    """Step 5 (C1): the agency's require_second_factor -> the existing TOTP enrolment
    as the wizard's last step, then the welcome page. Without a directory match the
    staff member is not badged (step 4 is the staff part's hook)."""
    import pyotp

    assert step1(client, member_type="staff", agency="moc-ops").status_code == 303
    page = _fields(client.get("/register/prove"))
    assert 'id="prove-directory"' not in page and "Second factor" in page  # no directory here
    _post(client, "/register/prove", action="continue")
    client.get("/register/details")
    r = details(client, code_for(smtp_sink), position="Analyst")
    # No directory match: step 4 (the staff document upload) comes first.
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/waiting")
    assert "Send a staff document" in _fields(client.get("/register/waiting"))
    user = db.scalar(select(User).where(User.email_key == EMAIL))
    assert user.member_type == "staff" and user.agency == "moc-ops" and user.position == "Analyst"
    start = _fields(client.get("/register/second-factor"))
    assert "Your membership requires a second step" in start
    client.post(
        "/register/second-factor",
        data={"step": "start", "name": "", "csrf_token": csrf_token(start)},
    )
    qr = _fields(client.get("/register/second-factor"))
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', qr).group(1)
    done = client.post(
        "/register/second-factor",
        data={
            "step": "confirm",
            "method": "totp",
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_token(qr),
        },
    )
    assert done.status_code == 200 and "/register/welcome" in _fields(done)


def test_staff_must_give_a_position(client, db, smtp_sink):
    step1(client, member_type="staff", agency="moc-dit")
    _post(client, "/register/prove", action="continue")
    client.get("/register/details")
    r = details(client, code_for(smtp_sink))
    assert r.status_code == 400 and 'id="position"' in _fields(r)
    r = step1(client, member_type="staff", agency="no-such-agency")
    assert r.status_code == 400 and "Choose your agency" in _fields(r)


def test_registration_from_an_authorize_flow_continues_to_the_relying_party(client, db, smtp_sink):
    from tests.factories import authorize_params, make_client, pkce_pair

    rp = make_client(db)
    db.commit()
    _verifier, challenge = pkce_pair()
    r = client.get("/authorize", query_string=authorize_params(rp, challenge))
    login_url = r.headers["Location"]
    flow = re.search(r"flow=([^&]+)", login_url).group(1)
    login_page = _fields(client.get(login_url))
    assert f"/register?flow={flow}" in login_page
    client.get(f"/register?flow={flow}")
    _to_details(client)
    r = details(client, code_for(smtp_sink))
    welcome = _fields(client.get(r.headers["Location"]))
    assert f"flow={flow}" in welcome  # "Continue" goes back to /authorize


def test_the_thai_page_shows_the_thai_notice_and_a_buddhist_era_end_date(client, db, smtp_sink):
    client.set_cookie("idp_lang", "th", domain="localhost")
    page = _fields(client.get("/register/identity"))
    from idp.models import PersonalDataNotice

    notice = db.get(PersonalDataNotice, 1)
    assert notice.text_th[:30] in page and "คุณคือใคร" in page
    with time_machine.travel(T0, tick=False):
        _to_details(client)
        assert details(client, code_for(smtp_sink)).status_code == 303
        welcome = _fields(client.get("/register/welcome"))
    assert "สมาชิกชั่วคราวถึงวันที่" in welcome and "2570" in welcome  # 2027 CE + 543
