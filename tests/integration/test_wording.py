"""Pages that say the wrong thing (issue 9), in Thai and English: who asks for a second
factor or a password again, the paused sign-in (identical for unknown names), the way
back from the no-access page, consent for the organisation acted for, applications
that skip consent on the account page, and confirmation of the actions that cannot be
undone with one click."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
import time_machine
from sqlalchemy import select

from idp.jobs import purge
from idp.mfa import services as mfa
from idp.models import (
    Consent,
    Grant,
    IdentifierCounter,
    Membership,
    MfaFactor,
    Organization,
    Token,
    User,
)
from idp.oidc.acr import ACR_MFA
from idp.orgs import documents, services
from tests.factories import (
    PASSWORD,
    authorize_params,
    confirm,
    csrf_token,
    exchange,
    get_code,
    login,
    make_client,
    make_user,
    pkce_pair,
    query,
)
from tests.integration.test_mfa import Flow, _client_row, enrol_totp
from tests.otp import oathtool_code
from tests.unit.orgs.test_documents import pdf

T0 = 1_800_000_000
LANGS = ("en", "th")


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


@pytest.fixture
def alice(db):
    return make_user(db)


def _lang(client, lang):
    client.set_cookie("idp_lang", lang, domain="localhost")


def _text(resp) -> str:
    """The page's text with entities decoded (Jinja escapes quotes)."""
    return html.unescape(resp.get_data(as_text=True))


def _hidden_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }


def _assert_confirmation_page(resp, cancel: str):
    """The shared page: a "Yes" that posts confirm=yes with a fresh CSRF token, and a
    Cancel link back."""
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'id="confirm-yes"' in page and 'id="confirm-title"' in page
    fields = _hidden_fields(page)
    assert fields["confirm"] == "yes" and fields["csrf_token"]
    assert f'id="confirm-cancel" href="{cancel}"' in page


# --- 1. Who asks for the second factor ----------------------------------------------

ASKS = {
    "en": {
        "client": "e-Invoice asks you to confirm it is you with a second step.",
        "org_console": "The organisation admin console needs a second step to confirm it is you.",
        "operator_console": "The operator console needs a second step to confirm it is you.",
        "enrol_client": "e-Invoice requires a second step when you sign in.",
        "enrol_console": "The organisation admin console requires a second step.",
        "enrol_account": "You are adding an authenticator app (soft token) on your phone",
    },
    "th": {
        "client": "e-Invoice ขอให้คุณยืนยันตัวตนด้วยขั้นตอนที่สอง",
        "org_console": "หน้าจอผู้ดูแลหน่วยงานต้องการขั้นตอนที่สองเพื่อยืนยันว่าเป็นคุณ",
        "operator_console": "หน้าจอผู้ดูแลระบบต้องการขั้นตอนที่สองเพื่อยืนยันว่าเป็นคุณ",
        "enrol_client": "e-Invoice กำหนดให้ใช้ขั้นตอนที่สองเมื่อเข้าสู่ระบบ",
        "enrol_console": "หน้าจอผู้ดูแลหน่วยงานกำหนดให้ใช้ขั้นตอนที่สอง",
        "enrol_account": "คุณกำลังเพิ่มแอปยืนยันตัวตน",
    },
}
VAGUE = ("This application", "แอปพลิเคชันนี้")


def _org_with_admin(db, admin):
    org = services.create_org(db, kind="company", identifier="0105536092641", name_th="บริษัท ก")
    services.add_member(db, org.id, admin, role="admin")
    db.commit()
    return org


def _no_vague_words(text: str) -> None:
    assert not any(v in text for v in VAGUE)


@pytest.mark.parametrize("lang", LANGS)
def test_second_factor_page_names_the_application(client, db, settings, alice, lang):
    enrol_totp(db, settings)
    rp = make_client(db, name="e-Invoice")
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    _lang(client, lang)
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/challenge")
    text = html.unescape(flow.open_page())
    assert ASKS[lang]["client"] in text
    _no_vague_words(text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("console", ["org_console", "operator_console"])
def test_console_step_up_names_the_console(client, db, settings, alice, lang, console):
    enrol_totp(db, settings)
    org = _org_with_admin(db, alice)
    alice = db.get(User, alice.id)
    alice.is_operator = True
    db.commit()
    _lang(client, lang)
    login(client)
    path = f"/orgs/{org.id}/admin" if console == "org_console" else "/operator/orgs"
    resp = client.get(path)
    assert "/mfa/challenge" in resp.headers["Location"]
    text = _text(client.get(resp.headers["Location"]))
    assert ASKS[lang][console] in text
    _no_vague_words(text)


@pytest.mark.parametrize("lang", LANGS)
def test_enrolment_says_who_requires_it(client, db, alice, lang):
    """A relying party, a console, or the person's own choice on the account page."""
    rp = make_client(db, name="e-Invoice")
    _client_row(db, rp).min_acr = ACR_MFA
    org = _org_with_admin(db, alice)
    _lang(client, lang)
    flow = Flow(client, rp).login()
    assert flow.at("/mfa/enrol")
    text = html.unescape(flow.open_page())
    assert ASKS[lang]["enrol_client"] in text
    _no_vague_words(text)

    resp = client.get(f"/orgs/{org.id}/admin")
    assert "/mfa/enrol" in resp.headers["Location"]
    text = _text(client.get(resp.headers["Location"]))
    assert ASKS[lang]["enrol_console"] in text

    text = _text(client.get("/account/security/totp"))  # signed in just now
    assert ASKS[lang]["enrol_account"] in text
    assert ASKS[lang]["enrol_client"] not in text
    _no_vague_words(text)


# --- 2. Re-authentication says why and keeps the name -------------------------------

REAUTH = {
    "en": {
        "client": "For your security, Records asks you to enter your password again.",
        "org_console": (
            "For your security, the organisation admin console asks you to enter your "
            "password again."
        ),
        "account": "For your security, enter your password again to continue.",
        "switch": "Not you? Sign in as another person",
    },
    "th": {
        "client": "เพื่อความปลอดภัย Records ขอให้คุณกรอกรหัสผ่านอีกครั้ง",
        "org_console": "เพื่อความปลอดภัย หน้าจอผู้ดูแลหน่วยงานขอให้คุณกรอกรหัสผ่านอีกครั้ง",
        "account": "เพื่อความปลอดภัย โปรดกรอกรหัสผ่านอีกครั้งเพื่อดำเนินการต่อ",
        "switch": "ไม่ใช่คุณใช่ไหม",
    },
}


def _username_input(page: str) -> str:
    return re.search(r'<input[^>]*id="username"[^>]*>', page).group(0)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("extra", [{"max_age": "0"}, {"prompt": "login"}])
def test_reauthentication_says_why_and_shows_the_name(client, db, alice, lang, extra):
    """OIDC Core 3.1.2.1 max_age / prompt=login: the person signed in confirms their own
    password; the name is fixed, with a way to sign in as someone else."""
    rp = make_client(db, name="Records")
    _lang(client, lang)
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(5)
        flow = Flow(client, rp, **extra)
        assert flow.at("/login")
        page = html.unescape(flow.open_page())
        assert REAUTH[lang]["client"] in page
        field = _username_input(page)
        assert 'value="alice"' in field and "readonly" in field
        assert REAUTH[lang]["switch"] in page
        flow = flow.login()  # the readonly name is posted like any other
        assert "code" in query(flow.location)


def test_not_you_signs_in_as_another_person(client, db, alice):
    rp = make_client(db, name="Records")
    bob = make_user(db, "bob")
    _lang(client, "en")
    login(client)
    flow = Flow(client, rp, prompt="login")
    page = flow.open_page()
    switch = html.unescape(re.search(r'id="switch-user" href="([^"]+)"', page).group(1))
    assert "switch=1" in switch
    other = client.get(switch).get_data(as_text=True)
    field = _username_input(other)
    assert "readonly" not in field and "alice" not in field
    resp = client.post(
        switch,
        data={"username": "bob", "password": PASSWORD, "csrf_token": csrf_token(other)},
    )
    flow.resp = resp
    flow.follow()
    tokens = flow.tokens()
    assert tokens["access_token"]
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.get_json()["sub"] == bob.sub


def test_id_token_hint_for_someone_else_is_a_fresh_sign_in(client, db, alice):
    """The relying party asks for another person: the signed-in name is not offered."""
    rp = make_client(db, name="Records")
    make_user(db, "bob")
    code, verifier, _ = get_code(client, rp, username="bob")
    bobs_id_token = exchange(client, rp, code, verifier).get_json()["id_token"]
    client.post("/account/logout", data={"csrf_token": csrf_token(_text(client.get("/account")))})
    _lang(client, "en")
    login(client)  # alice
    flow = Flow(client, rp, id_token_hint=bobs_id_token)
    assert flow.at("/login")
    page = flow.open_page()
    assert 'value="alice"' not in _username_input(page)
    assert "For your security" not in page


@pytest.mark.parametrize("lang", LANGS)
def test_console_password_again_names_the_console(client, db, settings, alice, lang):
    """After 15 idle minutes at a console (SECURITY.md S-04) the password is asked again,
    and the page says which console asks."""
    secret = enrol_totp(db, settings)
    org = _org_with_admin(db, alice)
    _lang(client, lang)
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        resp = client.get(f"/orgs/{org.id}/admin")
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
        client.post(
            resp.headers["Location"],
            data={
                "method": "totp",
                "code": oathtool_code(secret, T0),
                "csrf_token": csrf_token(page),
            },
        )
        assert client.get(f"/orgs/{org.id}/admin").status_code == 200
        traveller.shift(16 * 60)  # 15 idle minutes: the whole login again (S-04)
        resp = client.get(f"/orgs/{org.id}/admin")
        assert "/login" in resp.headers["Location"]
        page = _text(client.get(resp.headers["Location"]))
    assert REAUTH[lang]["org_console"] in page
    assert 'value="alice"' in _username_input(page)


@pytest.mark.parametrize("lang", LANGS)
def test_account_page_password_again_keeps_the_name(client, db, alice, lang):
    _lang(client, lang)
    with time_machine.travel(T0, tick=False) as traveller:
        login(client)
        traveller.shift(11 * 60)  # past the 10 minutes that factor changes allow
        resp = client.get("/account/security/totp")
        assert "/login?next=security" in resp.headers["Location"]
        page = _text(client.get(resp.headers["Location"]))
    assert REAUTH[lang]["account"] in page
    assert 'value="alice"' in _username_input(page)


def test_fresh_sign_in_is_not_a_reauthentication(client, db, alice):
    page = _text(client.get("/login"))
    assert "readonly" not in _username_input(page) and "switch-user" not in page


# --- 3. Paused sign-in, the same for every name -------------------------------------

FAILED = {
    "en": "Sign-in failed: the username or password is wrong, or sign-in is paused",
    "th": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
}
PAUSED = {
    "en": "Sign-in with this username or email is paused for a few minutes",
    "th": "การเข้าสู่ระบบด้วยชื่อผู้ใช้หรืออีเมลนี้ถูกระงับชั่วคราว",
}


def _post_login(client, username, password):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(_text(page))},
    )


def _body(resp) -> bytes:
    return re.sub(rb'value="[^"]*"', b'value=""', resp.data)


@pytest.mark.parametrize("lang", LANGS)
def test_paused_sign_in_reads_the_same_for_an_unknown_name_A02(client, alice, lang):
    """ASVS 6.3.8, SECURITY.md A-01/A-02: after 5 failures the page says sign-in with
    this name is paused and links to recovery; a name without an account gets the very
    same answers (status, body, cookies) at every attempt, and the same end of pause."""
    _lang(client, lang)
    with time_machine.travel(T0, tick=False) as traveller:
        for attempt in range(1, 7):
            known = _post_login(client, "alice", "wrong password!")
            unknown = _post_login(client, "nobody-here", "wrong password!")
            assert known.status_code == unknown.status_code == 200
            assert _body(known) == _body(unknown)
            assert known.headers.get("Set-Cookie") == unknown.headers.get("Set-Cookie")
            text = _text(known)
            if attempt < 5:
                assert FAILED[lang] in text and PAUSED[lang] not in text
                assert "recover-link" not in text
            else:
                assert PAUSED[lang] in text and FAILED[lang] not in text
                assert 'id="recover-link" href="/account/forgot"' in text
        right = _post_login(client, "alice", PASSWORD)  # paused: not even verified
        assert _body(right) == _body(_post_login(client, "nobody-here", PASSWORD))
        traveller.shift(299)
        assert PAUSED[lang] in _text(_post_login(client, "alice", PASSWORD))
        assert PAUSED[lang] in _text(_post_login(client, "nobody-here", PASSWORD))
        traveller.shift(2)
        assert FAILED[lang] in _text(_post_login(client, "nobody-here", "wrong password!"))
        assert _post_login(client, "alice", PASSWORD).status_code == 303


def test_another_name_of_a_locked_account_reads_like_an_unknown_name_A02(client, db, alice):
    """The account stays locked whichever name is typed (A-05), but the page says
    "paused" only for the name that was paused: else alice@example.org would read
    differently from an unknown address and confirm the account."""
    _lang(client, "en")
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            _post_login(client, "alice", "wrong password!")
        by_email = _post_login(client, "alice@example.org", PASSWORD)
        unknown = _post_login(client, "someone@example.org", PASSWORD)
        assert by_email.status_code == unknown.status_code == 200  # not signed in
        assert _body(by_email) == _body(unknown)
        assert FAILED["en"] in _text(by_email)
    db.expire_all()
    assert db.scalar(select(User).where(User.username_key == "alice")).locked_until == T0 + 300


def test_identifier_counts_store_no_names_and_are_purged(app, client, db, alice):
    with time_machine.travel(T0, tick=False):
        _post_login(client, "nobody-here", "wrong password!")
        _post_login(client, "alice", PASSWORD)  # a success leaves no count
    rows = db.scalars(select(IdentifierCounter)).all()
    assert len(rows) == 1 and "nobody" not in rows[0].key_hash
    purge(db, T0 + 3600)
    assert db.scalars(select(IdentifierCounter)).all() != []
    purge(db, T0 + 86400 + 1)
    assert db.scalars(select(IdentifierCounter)).all() == []


@pytest.mark.parametrize(
    "lang,expected",
    [("en", "Ask your organisation's administrator or the help desk"), ("th", "ผู้ดูแลหน่วยงาน")],
)
def test_recovery_page_says_who_can_help(client, lang, expected):
    _lang(client, lang)
    resp = client.get("/account/recover", follow_redirects=True)  # now /account/forgot
    assert resp.status_code == 200 and expected in _text(resp)


# --- 4. The no-access page is not a dead end ---------------------------------------

SCOPES = "openid profile einvoice:submit einvoice:view offline_access"


@pytest.fixture
def org_client(db, alice):
    boss = make_user(db, "boss", name="Boss Person")
    rp = make_client(db, name="e-Invoice", skip_consent=False)
    submit = services.add_scope(
        db,
        rp.client_id,
        "einvoice:submit",
        description_en="Submit invoices",
        description_th="ส่งใบกำกับภาษี",
    )
    view = services.add_scope(
        db,
        rp.client_id,
        "einvoice:view",
        description_en="View invoices",
        description_th="ดูใบกำกับภาษี",
    )
    org = services.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท ก", name_en="Company A"
    )
    services.allow_client(db, org.id, rp.client_id)
    services.add_member(db, org.id, alice)
    services.add_member(db, org.id, boss, role="admin")
    db.commit()
    return {"rp": rp, "org": org, "submit": submit, "view": view, "boss": boss}


@pytest.mark.parametrize("lang,back", [("en", "Back to e-Invoice"), ("th", "กลับไปที่ e-Invoice")])
def test_no_access_page_leads_back_to_the_application_and_out(client, db, org_client, lang, back):
    """RFC 6749 4.1.2.1: the way back is an access_denied answer to the verified
    redirect URI, with state and the RFC 9207 iss."""
    _lang(client, lang)
    flow = Flow(client, org_client["rp"], scope=SCOPES).login()
    assert flow.resp.status_code == 403
    page = _text(flow.resp)
    assert back in page
    href = re.search(r'id="back-to-client" href="([^"]+)"', page).group(1)
    assert href.startswith(org_client["rp"].redirect_uri + "?")
    answer = query(href)
    assert answer["error"] == "access_denied" and answer["state"] == "st-123"
    assert answer["iss"] == "http://localhost" and "code" not in answer
    out = client.post("/account/logout", data={"csrf_token": csrf_token(page)})
    assert out.status_code == 200 and 'id="no-access-sign-out"' in page
    assert "/login" in client.get("/account").headers["Location"]


# --- 5. Consent names the organisation and only the rights held there ---------------


def _consent_page(client, rp):
    """Run /authorize for a signed-in person: (consent URL, its page), or (None, None)
    when a code comes back without consent being asked."""
    _, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, scope=SCOPES)))
    while resp.status_code in (302, 303):
        location = resp.headers["Location"]
        if location.startswith(rp.redirect_uri):
            assert "code" in query(location)
            return None, None
        if "/consent" in location:
            return location, client.get(location)
        resp = client.get(location)
    raise AssertionError(resp.get_data(as_text=True)[:300])


@pytest.mark.parametrize(
    "lang,org_name,held,not_held",
    [
        ("en", "Company A", "View invoices", "Submit invoices"),
        ("th", "บริษัท ก", "ดูใบกำกับภาษี", "ส่งใบกำกับภาษี"),
    ],
)
def test_consent_names_the_organisation_and_lists_held_rights_only_E05(
    client, db, alice, org_client, lang, org_name, held, not_held
):
    services.grant_scope(db, org_client["org"].id, alice.id, org_client["view"].id)
    db.commit()
    _lang(client, lang)
    login(client)
    rp = org_client["rp"]
    url, page = _consent_page(client, rp)
    text = _text(page)
    consent_org = re.search(r'<p id="consent-org">([^<]+)</p>', text).group(1)
    assert org_name in consent_org
    scopes = re.search(r'<ul class="[^"]*" id="consent-scopes">(.*?)</ul>', text, re.S).group(1)
    assert held in scopes and not_held not in scopes and "einvoice:submit" not in scopes
    client.post(url, data={"decision": "allow", "csrf_token": csrf_token(text)})
    row = db.scalar(select(Consent).where(Consent.user_id == alice.id))
    assert "einvoice:view" in row.scope.split() and "einvoice:submit" not in row.scope.split()

    _, again = _consent_page(client, rp)  # consented to all that is issued: not asked again
    assert again is None
    services.grant_scope(db, org_client["org"].id, alice.id, org_client["submit"].id)
    db.commit()
    _, asked = _consent_page(client, rp)  # a new right: asked for it
    assert not_held in _text(asked)


# --- 6. Applications without consent but with a refresh token -----------------------


def _offline_tokens(client, db):
    rp = make_client(db, name="Records", skip_consent=True)
    code, verifier, _ = get_code(client, rp, scope="openid offline_access")
    tokens = exchange(client, rp, code, verifier).get_json()
    assert tokens["refresh_token"]
    return rp, tokens


@pytest.mark.parametrize(
    "lang,offline,no_consent",
    [
        (
            "en",
            "Keep access while you are away",
            "It did not ask for your consent: the service operator allowed it.",
        ),
        ("th", "เข้าถึงต่อได้แม้คุณไม่ได้ใช้งานอยู่", "ระบบนี้ไม่ได้ขอความยินยอมจากคุณ"),
    ],
)
def test_account_lists_clients_holding_refresh_tokens_and_withdraws_them(
    client, db, alice, lang, offline, no_consent
):
    rp, tokens = _offline_tokens(client, db)
    assert db.scalar(select(Consent)) is None  # skip consent: nothing on record
    _lang(client, lang)
    page = _text(client.get("/account"))
    item = re.search(rf'id="allowed-{rp.client_id}">(.*?)</form>', page, re.S).group(1)
    assert "Records" in item and offline in item and no_consent in item

    withdraw = client.post(
        f"/account/consents/{rp.client_id}/revoke", data={"csrf_token": csrf_token(page)}
    )
    _assert_confirmation_page(withdraw, "/account")
    assert "Records" in _text(withdraw)
    live = select(Token).where(Token.kind == "refresh", Token.revoked_at.is_(None))
    assert db.scalars(live).all() != []  # nothing changed before the "Yes"
    done = confirm(client, withdraw)
    assert done.status_code == 303
    db.expire_all()
    assert db.scalars(live).all() == []
    refresh = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refresh.get_json()["error"] == "invalid_grant"
    assert f'id="allowed-{rp.client_id}"' not in _text(client.get("/account"))


def test_withdrawing_from_an_app_that_never_asks_says_it_gets_access_again(client, db, alice):
    """The page must not promise "only after you allow it again" to a client that signs
    in without a consent page."""
    rp, _tokens = _offline_tokens(client, db)
    _lang(client, "en")
    page = _text(client.get("/account"))
    first = client.post(
        f"/account/consents/{rp.client_id}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert "gets access again the next time you sign in to it" in _text(first)
    assert "only after you sign in to it and allow it again" not in _text(first)


def test_the_language_switch_on_a_confirmation_asks_again_in_that_language(client, db, alice):
    """The confirmation answers a POST: its switch posts the same fields again (a link
    would GET a POST-only URL: 405) and nothing is done until "Yes"."""
    rp = make_client(db, name="Records", skip_consent=False)
    get_code(client, rp)
    _lang(client, "en")
    page = _text(client.get("/account"))
    first = _text(
        client.post(
            f"/account/consents/{rp.client_id}/revoke", data={"csrf_token": csrf_token(page)}
        )
    )
    form = re.search(
        r'<form method="post" action="([^"]+)" class="idp-lang-form">(.*?)</form>', first, re.S
    )
    action = html.unescape(form.group(1))
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    )
    assert action.endswith("lang=th") and "confirm" not in fields
    switched = client.post(action, data=fields)
    assert switched.status_code == 200
    assert "ใช่ ยกเลิกการอนุญาต" in _text(switched)
    assert db.scalar(select(Consent)) is not None


# --- 7. Confirmation before what cannot be undone with one click --------------------


@pytest.mark.parametrize("lang,yes", [("en", "Yes, withdraw access"), ("th", "ใช่ ยกเลิกการอนุญาต")])
def test_withdrawing_consent_asks_first(client, db, alice, lang, yes):
    rp = make_client(db, name="Records", skip_consent=False)
    get_code(client, rp)
    _lang(client, lang)
    page = _text(client.get("/account"))
    first = client.post(
        f"/account/consents/{rp.client_id}/revoke", data={"csrf_token": csrf_token(page)}
    )
    _assert_confirmation_page(first, "/account")
    assert yes in _text(first)
    assert db.scalar(select(Consent)) is not None
    assert db.scalar(select(Grant).where(Grant.revoked_at.is_not(None))) is None
    confirm(client, first)
    db.expire_all()
    assert db.scalar(select(Consent)) is None


@pytest.fixture
def console(client, db, settings, alice):
    """alice administers an organisation with carl in it, past the console's step-up."""
    secret = enrol_totp(db, settings)
    org = _org_with_admin(db, db.get(User, alice.id))
    carl = make_user(db, "carl", name="Carl Member")
    services.add_member(db, org.id, carl)
    db.commit()
    login(client)
    resp = client.get(f"/orgs/{org.id}/admin")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    client.post(
        resp.headers["Location"],
        data={"method": "totp", "code": oathtool_code(secret), "csrf_token": csrf_token(page)},
    )
    return {"org": org, "carl": carl, "secret": secret}


@pytest.mark.parametrize(
    "lang,words",
    [
        ("en", ("Remove Carl Member from บริษัท ก?", "Yes, remove from the organisation")),
        ("th", ("นำ Carl Member ออกจาก บริษัท ก", "ใช่ นำออกจากหน่วยงาน")),
    ],
)
def test_removing_a_member_asks_first(client, db, console, lang, words):
    org, carl = console["org"], console["carl"]
    _lang(client, lang)
    page = _text(client.get(f"/orgs/{org.id}/admin"))
    first = client.post(
        f"/orgs/{org.id}/admin/members/{carl.id}/remove", data={"csrf_token": csrf_token(page)}
    )
    _assert_confirmation_page(first, f"/orgs/{org.id}/admin")
    assert all(w in _text(first) for w in words)
    member = select(Membership).where(Membership.user_id == carl.id)
    assert db.scalar(member) is not None
    done = confirm(client, first)
    assert query(done.headers["Location"])["m"] == "member_removed"
    assert db.scalar(member) is None


@pytest.fixture
def operator(client, db, settings, alice):
    secret = enrol_totp(db, settings)
    user = db.get(User, alice.id)
    user.is_operator = True
    db.commit()
    login(client)
    resp = client.get("/operator/orgs")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    client.post(
        resp.headers["Location"],
        data={"method": "totp", "code": oathtool_code(secret), "csrf_token": csrf_token(page)},
    )
    return user


def _status_post(client, org, action, **extra):
    page = _text(client.get(f"/operator/orgs/{org.id}"))
    return client.post(
        f"/operator/orgs/{org.id}/status",
        data={"action": action, "csrf_token": csrf_token(page), **extra},
    )


def _status(db, org) -> str:
    db.expire_all()
    return db.get(Organization, org.id).status


@pytest.mark.parametrize(
    "lang,words",
    [
        ("en", ("Suspend บริษัท ก?", "Yes, suspend")),
        ("th", ("ระงับ บริษัท ก", "ใช่ ระงับ")),
    ],
)
def test_suspending_asks_first(client, db, operator, lang, words):
    rp = make_client(db, name="e-Invoice")
    scope = services.add_scope(db, rp.client_id, "einvoice:submit")
    org = _org_with_admin(db, make_user(db, "boss"))
    services.allow_client(db, org.id, rp.client_id)
    boss = db.scalar(select(User).where(User.username_key == "boss"))
    services.grant_scope(db, org.id, boss.id, scope.id)
    db.commit()
    member = client.application.test_client()
    get_code(member, rp, username="boss", scope="openid einvoice:submit")
    _lang(client, lang)
    first = _status_post(client, org, "suspend")
    _assert_confirmation_page(first, f"/operator/orgs/{org.id}")
    assert all(w in _text(first) for w in words)
    assert _status(db, org) == "active"
    assert db.scalar(select(Grant).where(Grant.revoked_at.is_not(None))) is None
    confirm(client, first)
    assert _status(db, org) == "suspended"


APPROVAL = {
    "en": {
        "no_admin": "The organisation has no admin",
        "no_document": "No power-of-attorney document has been uploaded.",
        "document_rejected": "Its power-of-attorney document was rejected.",
        "anyway": "Yes, approve anyway",
        "yes": "Yes, approve",
    },
    "th": {
        "no_admin": "หน่วยงานนี้ยังไม่มีผู้ดูแล",
        "no_document": "ยังไม่มีการอัปโหลดหนังสือมอบอำนาจ",
        "document_rejected": "หนังสือมอบอำนาจของหน่วยงานนี้ถูกปฏิเสธ",
        "anyway": "ใช่ อนุมัติต่อไป",
        "yes": "ใช่ อนุมัติ",
    },
}


def _pending_org(db):
    return services.create_org(
        db, kind="agency", identifier="MOC-01", name_th="กรม ข", status="pending"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_approving_without_admin_or_document_shows_the_reasons_first(client, db, operator, lang):
    org = _pending_org(db)
    db.commit()
    _lang(client, lang)
    first = _status_post(client, org, "approve")
    _assert_confirmation_page(first, f"/operator/orgs/{org.id}")
    text = _text(first)
    warnings = re.search(r'id="confirm-warnings">(.*?)</div>', text, re.S).group(1)
    assert APPROVAL[lang]["no_admin"] in warnings and APPROVAL[lang]["no_document"] in warnings
    assert APPROVAL[lang]["anyway"] in text
    assert _status(db, org) == "pending"
    # A "Yes" that did not see the reasons (a form of before) asks again.
    blind = _status_post(client, org, "approve", confirm="yes")
    _assert_confirmation_page(blind, f"/operator/orgs/{org.id}")
    assert _status(db, org) == "pending"
    confirm(client, first)
    assert _status(db, org) == "active"


def test_approving_asks_again_when_a_new_reason_appears(client, db, operator):
    """The operator saw "no document"; meanwhile the only admin left: asked again."""
    org = _pending_org(db)
    boss = make_user(db, "boss")
    services.add_member(db, org.id, boss, role="admin")
    db.commit()
    _lang(client, "en")
    first = _status_post(client, org, "approve")
    assert APPROVAL["en"]["no_admin"] not in _text(first)
    db.execute(Membership.__table__.delete().where(Membership.user_id == boss.id))
    db.commit()
    again = confirm(client, first)
    _assert_confirmation_page(again, f"/operator/orgs/{org.id}")
    assert APPROVAL["en"]["no_admin"] in _text(again)
    assert _status(db, org) == "pending"


@pytest.mark.parametrize("lang", LANGS)
def test_approving_with_rejected_document_names_it_and_a_sound_one_has_no_warning(
    client, db, operator, lang
):
    org = _pending_org(db)
    services.add_member(db, org.id, make_user(db, "boss"), role="admin")
    doc = documents.upload(db, org.id, pdf(), "letter.pdf", None)
    doc.review = "rejected"
    db.commit()
    _lang(client, lang)
    text = _text(_status_post(client, org, "approve"))
    assert APPROVAL[lang]["document_rejected"] in text
    assert APPROVAL[lang]["no_admin"] not in text
    doc = db.get(type(doc), doc.id)
    doc.review = "accepted"
    db.commit()
    sound = _status_post(client, org, "approve")
    _assert_confirmation_page(sound, f"/operator/orgs/{org.id}")
    text = _text(sound)
    assert 'id="confirm-warnings"' not in text and APPROVAL[lang]["yes"] in text
    assert APPROVAL[lang]["anyway"] not in text
    confirm(client, sound)
    assert _status(db, org) == "active"


def test_reactivating_needs_no_confirmation(client, db, operator):
    org = services.create_org(
        db, kind="agency", identifier="MOC-02", name_th="กรม ค", status="suspended"
    )
    db.commit()
    resp = _status_post(client, org, "reactivate")
    assert resp.status_code == 303 and _status(db, org) == "active"


@pytest.mark.parametrize(
    "lang,words",
    [
        ("en", ("Remove Spare key from your account?", "Yes, remove it")),
        ("th", ("ลบ Spare key ออกจากบัญชีของคุณ", "ใช่ ลบออก")),
    ],
)
def test_revoking_a_factor_asks_first(client, db, settings, alice, lang, words):
    enrol_totp(db, settings)
    spare, _ = mfa.start_totp(db, settings, db.get(User, alice.id), "Spare key")
    spare.status = "active"
    db.commit()
    _lang(client, lang)
    login(client)
    page = _text(client.get("/account/security"))
    first = client.post(
        f"/account/security/factors/{spare.id}/revoke",
        data={"reason": "lost_device", "csrf_token": csrf_token(page)},
    )
    _assert_confirmation_page(first, "/account/security")
    text = _text(first).replace("'", "")
    assert all(w in text for w in words)
    assert _hidden_fields(first.get_data(as_text=True))["reason"] == "lost_device"
    db.expire_all()
    assert db.get(MfaFactor, spare.id).status == "active"
    done = confirm(client, first)
    assert query(done.headers["Location"])["m"] == "revoked"
    db.expire_all()
    factor = db.get(MfaFactor, spare.id)
    assert (factor.status, factor.revoke_reason) == ("revoked", "lost_device")


def test_confirmation_needs_the_csrf_token_S05(client, db, alice):
    """A cross-site "Yes" (confirm=yes without a token) changes nothing."""
    rp = make_client(db, name="Records", skip_consent=False)
    get_code(client, rp)
    resp = client.post(f"/account/consents/{rp.client_id}/revoke", data={"confirm": "yes"})
    assert resp.status_code in (303, 400)
    assert db.scalar(select(Consent)) is not None


def test_operator_lifting_a_lockout_unpauses_the_persons_names(client, db, operator):
    """The operator's "lift lockout" clears the counts of the person's username and
    email too, else the login page would still say "paused"."""
    ann = make_user(db, "ann")
    other = client.application.test_client()
    _lang(other, "en")
    for _ in range(5):
        _post_login(other, "ann", "wrong password!")
        _post_login(other, "ann@example.org", "wrong password!")
    assert PAUSED["en"] in _text(_post_login(other, "ann", PASSWORD))
    page = _text(client.get("/operator/people?q=ann"))
    done = client.post(f"/operator/people/{ann.id}/unlock", data={"csrf_token": csrf_token(page)})
    assert query(done.headers["Location"])["m"] == "unlocked"
    assert _post_login(other, "ann", PASSWORD).status_code == 303
    signed_out = client.application.test_client()  # the email's count is cleared too
    assert _post_login(signed_out, "ann@example.org", PASSWORD).status_code == 303
