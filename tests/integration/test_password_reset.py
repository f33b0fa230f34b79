"""Forgot password (MISSION B3; SECURITY.md 0.3, A-09..A-12; ASVS 6.3.8, 6.4.3):
identical answers, a code bound to one flow and one account, resend pause and lock,
expiry, no MFA bypass, everything ended after the reset, mail over real SMTP."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from sqlalchemy import select

from idp.enrollment import pii
from idp.enrollment.identity import check_national_id, thai_id_check_digit
from idp.mfa import services as mfa
from idp.models import AuditEvent, Token, User, WebSession
from tests.factories import (
    PASSWORD,
    csrf_token,
    exchange,
    get_code,
    login,
    mail_text,
    make_client,
    make_user,
)
from tests.otp import oathtool_code

T0 = 1_800_000_000
ALICE_ID = "110170020345" + thai_id_check_digit("110170020345")
BOB_ID = "310050012345" + thai_id_check_digit("310050012345")
NEW_PASSWORD = "a brand new passphrase"  # noqa: S105
ANSWER_MS = 150


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(
        smtp_url=smtp_sink.url,
        password_reset_rate_limit="10000 per minute",
        password_reset_answer_ms=ANSWER_MS,
    )


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


def _with_document(db, settings, user, number):
    for name, value in pii.seal(settings, check_national_id(number)).columns().items():
        setattr(user, name, value)
    db.commit()
    return user


@pytest.fixture
def alice(db, settings):
    return _with_document(db, settings, make_user(db, "alice", locale="en"), ALICE_ID)


@pytest.fixture
def bob(db, settings):
    return _with_document(db, settings, make_user(db, "bob", locale="en"), BOB_ID)


def _user(db, name="alice"):
    db.expire_all()
    return db.scalar(select(User).where(User.username_key == name))


def _post(client, path, **data):
    page = client.get("/account/forgot").get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token(page)})


def _start(client, identifier="alice", document=ALICE_ID):
    client.set_cookie("idp_lang", "en", domain="localhost")
    return _post(client, "/account/forgot", identifier=identifier, document=document)


def _enter(client, code):
    return _post(client, "/account/forgot/code", code=code)


def _resend(client):
    return _post(client, "/account/forgot/resend")


def _new_password(client, password=NEW_PASSWORD, confirm=None):
    return _post(client, "/account/forgot/password", password=password, confirm=confirm or password)


def _codes(smtp_sink, address="alice@example.org"):
    return [
        re.search(r"\b(\d{6})\b", mail_text(m)).group(1)
        for m in smtp_sink.to(address)
        if "reset code" in m["Subject"]
    ]


def _wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _page(resp):
    """The answer without what differs per request anyway (CSRF tokens)."""
    return re.sub(r'value="[^"]*"', 'value=""', resp.get_data(as_text=True))


def _can_sign_in(app, password):
    return login(app.test_client(), "alice", password).status_code == 303


# --- the same answer whatever was typed ---------------------------------------


def test_unknown_account_wrong_document_and_match_answer_alike_A09(app, db, alice, smtp_sink):
    """Status, headers and pages are the same for an unknown name, a wrong document
    and the right one, through the code page and a wrong code; only the match mails."""
    answers = []
    for identifier, document in (("nobody", ALICE_ID), ("alice", BOB_ID), ("alice", ALICE_ID)):
        client = app.test_client()
        with time_machine.travel(T0, tick=False):
            started = time.monotonic()
            first = _start(client, identifier, document)
            took = time.monotonic() - started
            code_page = client.get(first.headers["Location"])
            wrong = _enter(client, "000000" if _codes(smtp_sink) != ["000000"] else "111111")
        answers.append(
            (
                first.status_code,
                first.headers["Location"],
                sorted(k for k, _v in first.headers.items()),
                _page(code_page),
                wrong.status_code,
                _page(wrong),
            )
        )
        assert took >= ANSWER_MS / 1000  # every answer waits for the same floor
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 303 and answers[0][4] == 400
    assert len(_codes(smtp_sink)) == 1  # mail only for the match
    code = _codes(smtp_sink)[0]
    assert re.fullmatch(r"\d{6}", code)


def test_match_and_no_match_take_the_same_time_A09(app, db, alice, smtp_sink):
    """The match stores and mails a code within the answer floor, so both answers take
    the floor (a timing oracle would need more than the noise between them)."""
    times = {}
    for label, document in (("miss", BOB_ID), ("hit", ALICE_ID)):
        client = app.test_client()
        with time_machine.travel(T0, tick=False):
            started = time.monotonic()
            _start(client, "alice", document)
            times[label] = time.monotonic() - started
    assert len(_codes(smtp_sink)) == 1
    assert min(times.values()) >= ANSWER_MS / 1000
    assert abs(times["hit"] - times["miss"]) < ANSWER_MS / 1000


def test_disabled_account_and_account_without_document_get_no_code(
    app, client, db, alice, smtp_sink
):
    """Decision (README): an account with no identity document on file (operator or
    command-line made) cannot reset by itself; the answer is the same neutral one."""
    make_user(db, "nodoc")
    assert _start(client, "nodoc", ALICE_ID).status_code == 303
    _user(db).is_active = False
    db.commit()
    assert _start(app.test_client(), "alice", ALICE_ID).status_code == 303
    assert smtp_sink.messages == []


def test_document_as_typed_on_the_card_matches(app, client, alice, smtp_sink):
    dashed = f"{ALICE_ID[0]}-{ALICE_ID[1:5]}-{ALICE_ID[5:10]}-{ALICE_ID[10:12]}-{ALICE_ID[12]}"
    _start(client, "  ALICE@example.org ", dashed)
    assert len(_codes(smtp_sink)) == 1


def test_mail_and_reset_in_the_recipients_language(app, client, db, alice, smtp_sink):
    _user(db).locale = "th"
    db.commit()
    _start(client)  # the page is English; the person chose Thai
    mail = smtp_sink.to("alice@example.org")[-1]
    assert "รหัส" in mail["Subject"] and "รหัส" in mail_text(mail)


# --- the happy path, and what the reset ends (A-12) ---------------------------------


def test_reset_ends_sessions_and_refresh_tokens_and_tells_the_person_A12(app, db, alice, smtp_sink):
    rp = make_client(db)
    elsewhere = app.test_client()
    code, verifier, _ = get_code(elsewhere, rp, scope="openid offline_access")
    tokens = exchange(elsewhere, rp, code, verifier).get_json()
    assert elsewhere.get("/account").status_code == 200
    _user(db).must_change_password = True  # e.g. flagged by an operator since (B2)
    db.commit()
    client = app.test_client()
    _start(client)
    assert _enter(client, _codes(smtp_sink)[0]).headers["Location"].endswith("/account/forgot/next")
    assert client.get("/account/forgot/next").headers["Location"].endswith("/forgot/password")
    done = _new_password(client)
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/forgot/done")
    user = _user(db)
    assert user.must_change_password is False and user.failed_logins == 0
    assert user.password_changed_at >= user.created_at
    assert db.scalars(select(WebSession).where(WebSession.user_id == user.id)).all() == []
    assert elsewhere.get("/account").status_code == 302  # that session ended at once
    refresh = elsewhere.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refresh.get_json()["error"] == "invalid_grant"
    assert all(t.revoked_at is not None for t in db.scalars(select(Token)))
    assert not _can_sign_in(app, PASSWORD) and _can_sign_in(app, NEW_PASSWORD)
    done_mail = [m for m in smtp_sink.to("alice@example.org") if "was reset" in m["Subject"]]
    assert len(done_mail) == 1 and NEW_PASSWORD not in mail_text(done_mail[0])
    tags = [e.tag for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "account:password:reset_requested" in tags and "account:password:reset" in tags


def test_new_password_follows_the_registration_policy_A07(app, client, db, alice, smtp_sink):
    _start(client)
    _enter(client, _codes(smtp_sink)[0])
    short = _new_password(client, "short")
    assert short.status_code == 400 and "too short" in short.get_data(as_text=True)
    assert _new_password(client, "alice-has-a-long-one").status_code == 400  # username
    assert _new_password(client, NEW_PASSWORD, "another one entirely").status_code == 400
    assert _can_sign_in(app, PASSWORD)
    assert _new_password(client).status_code == 303


def test_password_page_without_the_code_is_refused(app, client, alice, smtp_sink):
    _start(client)
    resp = _new_password(client)
    assert resp.status_code == 303 and "/account/forgot" in resp.headers["Location"]
    assert _can_sign_in(app, PASSWORD)


# --- single use, resend pause, lock ------------------------------------------


def test_code_is_single_use_A10(app, alice, smtp_sink):
    first = app.test_client()
    _start(first)
    code = _codes(smtp_sink)[0]
    assert _enter(first, code).status_code == 303
    assert _enter(first, code).status_code == 400  # the same browser again
    assert _new_password(first).status_code == 303
    assert _enter(first, code).status_code == 303  # flow is gone: start again
    assert "/account/forgot?" in _enter(first, code).headers["Location"]


def test_resend_too_early_is_429_without_mail_then_new_code_replaces_old_A10(
    app, client, alice, smtp_sink
):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(client)
        page = client.get("/account/forgot/code").get_data(as_text=True)
        assert 'data-wait="90"' in page and "in 90 seconds" in page  # the countdown
        traveller.shift(89)
        early = _resend(client)
        assert early.status_code == 429 and early.headers["Retry-After"] == "1"
        assert len(_codes(smtp_sink)) == 1
        traveller.shift(1)
        assert _resend(client).status_code == 303
        old, new = _codes(smtp_sink)
        assert _enter(client, old).status_code == 400  # superseded
        assert _enter(client, new).status_code == 303


def test_a_new_flow_is_no_way_round_the_pause_A10(app, alice, smtp_sink):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(app.test_client())
        again = app.test_client()
        _start(again)  # same neutral answer, no second mail
        assert len(_codes(smtp_sink)) == 1
        assert _resend(again).status_code == 429
        traveller.shift(90)
        assert _resend(again).status_code == 303 and len(_codes(smtp_sink)) == 2


def test_five_wrong_codes_lock_for_five_minutes_even_after_resend_A10(
    app, client, db, alice, smtp_sink
):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(client)
        code = _codes(smtp_sink)[0]
        for _ in range(5):
            assert _enter(client, _wrong(code)).status_code == 400
        assert _user(db).locked_until == T0 + 300
        traveller.shift(90)
        assert _resend(client).status_code == 303  # a new code...
        fresh = _codes(smtp_sink)[-1]
        locked = _enter(client, fresh)  # ...does not lift the lock
        assert locked.status_code == 400 and "Too many wrong codes" in locked.get_data(as_text=True)
        assert not _can_sign_in(app, PASSWORD)
        traveller.shift(211)  # 5 minutes after the fifth wrong code
        assert _enter(client, fresh).status_code == 303
        assert _new_password(client).status_code == 303


def test_decoy_flow_locks_like_a_real_one_A09(app, db, alice, smtp_sink):
    """The same answers, try by try, for a real flow and one that matched nothing."""
    real, decoy = app.test_client(), app.test_client()
    with time_machine.travel(T0, tick=False):
        _start(real)
        _start(decoy, "nobody")
        code = _codes(smtp_sink)[0]
        for _ in range(7):
            a, b = _enter(real, _wrong(code)), _enter(decoy, _wrong(code))
            assert (a.status_code, _page(a)) == (b.status_code, _page(b))


def test_a_locked_account_answers_alike_for_a_right_and_a_wrong_document_A09(
    app, db, alice, smtp_sink
):
    """Locked by wrong passwords at sign-in, the account answers "too many wrong codes"
    in a flow with its document and in one with a guessed document alike: a lock never
    confirms a guessed identity-document number (SECURITY.md A-09, ASVS 6.3.8)."""
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            login(app.test_client(), "alice", "not the password")
        right, guess = app.test_client(), app.test_client()
        _start(right)
        _start(guess, "alice", BOB_ID)
        a, b = _enter(right, "123456"), _enter(guess, "123456")
        assert "Too many wrong codes" in a.get_data(as_text=True)
        assert (a.status_code, _page(a)) == (b.status_code, _page(b))


def test_wrong_codes_in_a_guessed_documents_flow_count_on_the_account_A09(
    app, db, alice, smtp_sink
):
    """Five wrong codes in a flow whose document was wrong lock the named account as
    five in a matched flow would, so the sign-in that follows cannot tell them apart."""
    guess = app.test_client()
    with time_machine.travel(T0, tick=False):
        _start(guess, "alice", BOB_ID)
        for _ in range(5):
            _enter(guess, "123456")
        assert _user(db).locked_until == T0 + 300


def test_countdown_counts_from_the_flows_own_code_only_A09(app, alice, smtp_sink):
    """Another flow's newer code (the account-wide pause) never shows in this flow's
    countdown or Retry-After: with it, a matched flow's shorter wait would tell it from
    a decoy's (A-09). The pause still holds: no mail (A-10)."""
    first, right, guess = app.test_client(), app.test_client(), app.test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        _start(first)
        traveller.shift(50)
        _start(right)
        _start(guess, "alice", BOB_ID)
        traveller.shift(40)
        assert _resend(first).status_code == 303  # a code at T0 + 90
        traveller.shift(50)  # T0 + 140: the others' own 90 s are over, the account's not
        a, b = _resend(right), _resend(guess)
        assert (a.status_code, a.headers.get("Retry-After"), _page(client_page(right))) == (
            b.status_code,
            b.headers.get("Retry-After"),
            _page(client_page(guess)),
        )
        assert len(_codes(smtp_sink)) == 2  # the pause: no third mail


def client_page(client):
    return client.get("/account/forgot/code")


def test_a_matched_flow_that_mailed_nothing_answers_like_a_decoy_A09(app, alice, smtp_sink):
    """A flow started within the account's pause got no code; its wrong codes answer
    as a guessed document's flow does, not "ask for a new code"."""
    with time_machine.travel(T0, tick=False):
        _start(app.test_client())
        right, guess = app.test_client(), app.test_client()
        _start(right)
        _start(guess, "alice", BOB_ID)
        for _ in range(2):  # both count on alice's counter: 4 of 5, no lock yet
            a, b = _enter(right, "123456"), _enter(guess, "123456")
            assert (a.status_code, _page(a)) == (b.status_code, _page(b))


def test_code_expires_after_ten_minutes_A09(app, client, alice, smtp_sink):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(client)
        traveller.shift(600)
        assert _enter(client, _codes(smtp_sink)[0]).status_code == 400
    assert _can_sign_in(app, PASSWORD)


# --- bound to the flow and the account ---------------------------------------


def test_code_from_another_accounts_flow_is_rejected_A11(app, alice, bob, smtp_sink):
    mallory = app.test_client()
    _start(mallory, "bob", BOB_ID)
    _start(app.test_client(), "alice", ALICE_ID)
    alices_code = _codes(smtp_sink)[0]
    assert _enter(mallory, alices_code).status_code == 400
    assert _can_sign_in(app, PASSWORD)


def test_code_from_an_earlier_flow_is_rejected_A11(app, client, alice, smtp_sink):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(client)
        earlier = _codes(smtp_sink)[0]
        traveller.shift(90)
        _start(client)  # a new flow in the same browser
        assert len(_codes(smtp_sink)) == 2
        assert _enter(client, earlier).status_code == 400


def test_code_of_a_parallel_earlier_flow_is_rejected_A11(app, alice, smtp_sink):
    """A second flow within the pause gets no code of its own; the first flow's code
    (the account's latest) still does not work in it: codes are bound to their flow."""
    first, second = app.test_client(), app.test_client()
    with time_machine.travel(T0, tick=False):
        _start(first)
        _start(second)
        [code] = _codes(smtp_sink)
        assert _enter(second, code).status_code == 400
        assert _enter(first, code).status_code == 303


# --- no MFA bypass -----------------------------------------------------------


@pytest.fixture
def alice_totp(db, settings, alice):
    factor, secret = mfa.start_totp(db, settings, _user(db), "Phone")
    factor.status = "active"
    db.commit()
    return secret


def test_totp_user_must_present_the_factor_before_the_new_password_works_A12(
    app, client, db, alice_totp, smtp_sink
):
    with time_machine.travel(T0, tick=False) as traveller:
        _start(client)
        _enter(client, _codes(smtp_sink)[0])
        assert client.get("/account/forgot/next").headers["Location"].endswith("/forgot/verify")
        bypass = _new_password(client)  # straight to the password: refused
        assert bypass.status_code == 303 and bypass.headers["Location"].endswith("/forgot/verify")
        assert not _can_sign_in(app, NEW_PASSWORD) and _can_sign_in(app, PASSWORD)
        wrong = _post(client, "/account/forgot/verify", method="totp", code="000000")
        assert wrong.status_code == 400
        traveller.shift(30)
        ok = _post(
            client, "/account/forgot/verify", method="totp", code=oathtool_code(alice_totp, T0 + 30)
        )
        assert ok.status_code == 303 and ok.headers["Location"].endswith("/forgot/password")
        assert _new_password(client).status_code == 303
    assert _can_sign_in(app, NEW_PASSWORD)


def test_service_refuses_the_password_without_the_factor_A12(app, db, settings, alice_totp):
    """The service's own check, behind the page's redirect: a flow whose code was
    accepted but whose second factor was not proven cannot set a password."""
    from idp.account import recovery

    flow = recovery.ResetFlow(id="f", user_id=_user(db).id, started=T0, sent_at=T0, code_ok_at=T0)
    refused = pytest.raises(recovery.ResetError, match="factor_needed")
    with app.test_request_context(), time_machine.travel(T0 + 5, tick=False), refused:
        recovery.complete(db, settings, flow, NEW_PASSWORD)
    assert _can_sign_in(app, PASSWORD)


def test_recovery_code_counts_as_the_factor_A12(app, client, db, settings, alice_totp, smtp_sink):
    codes = mfa.regenerate_recovery_codes(db, settings, _user(db))
    db.commit()
    _start(client)
    _enter(client, _codes(smtp_sink)[0])
    used = _post(client, "/account/forgot/verify", method="recovery", code=codes[0])
    assert used.status_code == 303
    assert _new_password(client).status_code == 303


def test_security_key_user_passes_the_key_in_the_reset_flow_A12(app, db, alice, smtp_sink):
    """WebAuthn-only: the reset flow runs the assertion ceremony (its own endpoints,
    the challenge bound to this browser session) before the password page opens."""
    from tests.integration.test_webauthn import register
    from tests.webauthn_soft import SoftAuthenticator

    key, owner = SoftAuthenticator(), app.test_client()
    login(owner)
    assert register(owner, key)["ok"] is True
    client = app.test_client()
    _start(client)
    _enter(client, _codes(smtp_sink)[0])
    assert client.get("/account/forgot/next").headers["Location"].endswith("/forgot/verify")
    page = client.get("/account/forgot/verify").get_data(as_text=True)
    assert 'id="webauthn-start"' in page and 'id="totp-code"' not in page
    csrf = {"X-CSRFToken": csrf_token(page)}
    post = {"content_type": "application/json", "headers": csrf}
    opts = client.post("/account/forgot/webauthn/options", data="{}", **post).get_json()
    forged = SoftAuthenticator().get(opts, "http://localhost")  # not the registered key
    assert client.post("/account/forgot/webauthn/verify", data=forged, **post).status_code == 400
    assert _new_password(client).headers["Location"].endswith("/forgot/verify")
    opts = client.post("/account/forgot/webauthn/options", data="{}", **post).get_json()
    body = key.get(opts, "http://localhost")
    done = client.post("/account/forgot/webauthn/verify", data=body, **post).get_json()
    assert done == {"ok": True, "redirect": "/account/forgot/password"}
    assert _new_password(client).status_code == 303
    assert _can_sign_in(app, NEW_PASSWORD)


# --- the operator's action ---------------------------------------------------------


def _operator(app, db, settings, path):
    """A signed-in operator past the console's TOTP step-up; returns (client, page)."""
    op = make_user(db, "op")
    op.is_operator = True
    factor, secret = mfa.start_totp(db, settings, op, "Phone")
    factor.status = "active"
    db.commit()
    client = app.test_client()
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "op")
    challenge = client.get(path).headers["Location"]
    page = client.get(challenge).get_data(as_text=True)
    client.post(
        challenge,
        data={"method": "totp", "code": oathtool_code(secret), "csrf_token": csrf_token(page)},
    )
    return client, client.get(path).get_data(as_text=True)


def test_operator_sends_a_code_with_a_reason_never_a_password(app, db, settings, smtp_sink):
    """Issue 11: "send a password-reset code (never a password)", with a reason,
    audited; the mail's link opens the flow the code is bound to."""
    nodoc = make_user(db, "nodoc", locale="en")
    op, page = _operator(app, db, settings, "/operator/people?q=nodoc")
    assert 'name="reason"' in page and "reset-code-nodoc" in page
    token = csrf_token(page)
    url = f"/operator/people/{nodoc.id}/reset-code?q=nodoc"
    refused = op.post(url, data={"csrf_token": token, "reason": "  "})
    assert "m=reset_reason_missing" in refused.headers["Location"]
    sent = op.post(url, data={"csrf_token": token, "reason": "phoned the help desk, ID seen"})
    assert "m=reset_code_sent" in sent.headers["Location"]
    mail = smtp_sink.to("nodoc@example.org")[-1]
    text = mail_text(mail)
    code = re.search(r"\b(\d{6})\b", text).group(1)
    link = re.search(r"(http://localhost/account/forgot/resume\?ticket=\S+)", text).group(1)
    assert PASSWORD not in text
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:reset_code_sent"))
    assert event.details["reason"] == "phoned the help desk, ID seen"
    assert event.subject_user_id == nodoc.id
    person = app.test_client()
    assert person.get(link.replace("http://localhost", "")).status_code == 303
    assert _enter(person, code).status_code == 303
    assert _new_password(person).status_code == 303
    assert login(app.test_client(), "nodoc", NEW_PASSWORD).status_code == 303


def test_forged_ticket_binds_nothing(client, alice):
    resp = client.get("/account/forgot/resume?ticket=eyJ1IjoxfQ.forged")
    assert "/account/forgot?" in resp.headers["Location"]


# --- the pages ----------------------------------------------------------------------


def test_reset_form_is_rate_limited_per_ip(app_factory, alice, smtp_sink):
    app = app_factory(
        smtp_url=smtp_sink.url, password_reset_rate_limit="2 per hour", password_reset_answer_ms=0
    )
    client = app.test_client()
    assert [_start(client, "nobody").status_code for _ in range(3)] == [303, 303, 429]


def test_old_recover_address_and_login_link_lead_to_the_form(client):
    assert client.get("/account/recover").headers["Location"].endswith("/account/forgot")
    assert 'id="forgot-link" href="/account/forgot"' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("lang,title", [("en", "Forgotten your password?"), ("th", "ลืมรหัสผ่าน")])
def test_forgot_page_in_both_languages(client, lang, title):
    client.set_cookie("idp_lang", lang, domain="localhost")
    assert title in client.get("/account/forgot").get_data(as_text=True)


def test_form_without_csrf_is_refused(client, alice, smtp_sink):
    resp = client.post("/account/forgot", data={"identifier": "alice", "document": ALICE_ID})
    assert resp.status_code == 400 and smtp_sink.messages == []
