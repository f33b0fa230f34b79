"""Emailed codes through their one front door (idp.mfa.email_codes): brute force feeds
the shared failure counter (SECURITY.md 0.4 b, 7), and a code works only for the
account, purpose and flow or pending change it was sent for (SECURITY.md 7: "bound to
the flow ID")."""

from __future__ import annotations

import itertools
import re

import pytest
import time_machine
from sqlalchemy import select

from idp.mfa import email_codes, email_otp, services
from idp.mfa.email_otp import Outcome, Purpose
from idp.models import User
from idp.oidc.acr import ACR_MFA, ACR_MFA_EMAIL
from tests.factories import csrf_token, login, mail_text, make_client, make_user, query
from tests.integration.test_mfa import T0, Flow, _client_row, _email_code, _send_email, claims


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


@pytest.fixture
def alice(db):
    return make_user(db)


@pytest.fixture
def distinct_codes(monkeypatch):
    """Codes 100001, 100002, ...: two codes of one test never collide by chance."""
    counter = itertools.count(100001)
    monkeypatch.setattr(email_otp, "new_code", lambda: str(next(counter)))


def _email_rp(db):
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA_EMAIL
    db.commit()
    return rp


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _user(db) -> User:
    user = db.scalar(select(User).where(User.username_key == "alice"))
    db.refresh(user)
    return user


def _password_refused(app) -> bool:
    """A fresh browser with the right password does not get in."""
    return login(app.test_client(), "alice").status_code != 303


def _change_email(client, **data):
    page = client.get("/account/email").get_data(as_text=True)
    return client.post("/account/email", data={**data, "csrf_token": csrf_token(page)})


def _code_to(smtp_sink, address) -> str:
    body = mail_text(smtp_sink.to(address)[-1])
    return re.search(r"\b(\d{6})\b", body).group(1)


# --- Brute force feeds the shared counter ----------------------------------------------


def test_email_otp_guesses_lock_the_password_too_SECURITY_0_4_b(app, client, db, alice, smtp_sink):
    rp = _email_rp(db)
    with time_machine.travel(T0, tick=False):
        flow = Flow(client, rp).login()
        assert _send_email(flow).status_code == 303
        code = _email_code(smtp_sink, "alice@example.org")
        for _ in range(5):
            flow.submit_code("email", _wrong(code))
            assert flow.resp.status_code == 400
        assert _user(db).locked_until == T0 + 300
        assert _password_refused(app)


def test_recovery_code_guesses_lock_the_password_too_SECURITY_0_4_b(
    app, client, db, settings, alice
):
    user = db.scalar(select(User).where(User.username_key == "alice"))
    factor, _secret = services.start_totp(db, settings, user, "Phone")
    factor.status = "active"
    services.regenerate_recovery_codes(db, settings, user)
    db.commit()
    rp = make_client(db)
    with time_machine.travel(T0, tick=False):
        flow = Flow(client, rp, acr_values=ACR_MFA).login()
        for _ in range(5):
            flow.submit_code("recovery", "0000aaaa-0000bbbb")
            assert flow.resp.status_code == 400
        assert _user(db).locked_until == T0 + 300
        assert _password_refused(app)


def test_email_change_guesses_lock_the_password_too_SECURITY_0_4_b(
    app, client, db, alice, smtp_sink
):
    client.set_cookie("idp_lang", "en", domain="localhost")
    with time_machine.travel(T0, tick=False):
        login(client, "alice")
        assert _change_email(client, step="start", email="new@example.org").status_code == 200
        code = _code_to(smtp_sink, "new@example.org")
        for _ in range(5):
            assert _change_email(client, step="confirm", code=_wrong(code)).status_code == 400
        assert _user(db).locked_until == T0 + 300
        assert _password_refused(app)
        assert _user(db).email == "alice@example.org"


def test_sign_in_code_tries_are_limited_per_code_SECURITY_7(app_factory, db, smtp_sink):
    """5 wrong tries spend the code even where the lockout allows more."""
    app = app_factory(smtp_url=smtp_sink.url, lockout_threshold=100)
    client = app.test_client()
    make_user(db)
    rp = _email_rp(db)
    with time_machine.travel(T0, tick=False):
        flow = Flow(client, rp).login()
        _send_email(flow)
        code = _email_code(smtp_sink, "alice@example.org")
        for _ in range(5):
            flow.submit_code("email", _wrong(code))
        flow.submit_code("email", code)
        assert flow.resp.status_code == 400
        assert _user(db).locked_until is None  # refused by the code's limit, not a lock


# --- Bound to the flow, the pending change and the purpose ----------------------------


def test_code_sent_for_flow_a_fails_in_flow_b_SECURITY_7(client, db, alice, smtp_sink):
    rp = _email_rp(db)
    with time_machine.travel(T0, tick=False):
        flow_a = Flow(client, rp).login()
        assert _send_email(flow_a).status_code == 303
        code_a = _email_code(smtp_sink, "alice@example.org")
        flow_b = Flow(client, rp)  # same browser, signed in: straight to the challenge
        assert flow_b.at("/mfa/challenge")
        assert query(flow_b.location)["flow"] != query(flow_a.location)["flow"]
        flow_b.submit_code("email", code_a)
        assert flow_b.resp.status_code == 400
        flow_a.submit_code("email", code_a)  # the code itself was good, for flow A
        assert claims(client, flow_a.tokens()["id_token"])["acr"] == ACR_MFA_EMAIL


def test_email_change_code_is_not_a_sign_in_code(client, db, alice, smtp_sink, distinct_codes):
    rp = _email_rp(db)
    with time_machine.travel(T0, tick=False):
        flow = Flow(client, rp).login()
        _send_email(flow)
        sign_in_code = _email_code(smtp_sink, "alice@example.org")
        assert _change_email(client, step="start", email="new@example.org").status_code == 200
        change_code = _code_to(smtp_sink, "new@example.org")
        assert change_code != sign_in_code
        flow.submit_code("email", change_code)
        assert flow.resp.status_code == 400
        flow.submit_code("email", sign_in_code)
        assert flow.tokens()["id_token"]


def test_sign_in_code_cannot_confirm_an_email_change(client, db, alice, smtp_sink, distinct_codes):
    rp = _email_rp(db)
    client.set_cookie("idp_lang", "en", domain="localhost")
    with time_machine.travel(T0, tick=False):
        login(client, "alice")
        assert _change_email(client, step="start", email="new@example.org").status_code == 200
        change_code = _code_to(smtp_sink, "new@example.org")
        flow = Flow(client, rp)
        assert _send_email(flow).status_code == 303
        sign_in_code = _email_code(smtp_sink, "alice@example.org")
        assert change_code != sign_in_code
        wrong = _change_email(client, step="confirm", code=sign_in_code)
        assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
        assert _change_email(client, step="confirm", code=change_code).status_code == 303
    assert _user(db).email == "new@example.org"


def test_email_change_code_works_only_in_the_browser_that_asked(app, client, db, alice, smtp_sink):
    other = app.test_client()
    with time_machine.travel(T0, tick=False):
        login(other, "alice")
        login(client, "alice")
        assert _change_email(other, step="start", email="other@example.org").status_code == 200
        assert _change_email(client, step="start", email="new@example.org").status_code == 200
        code = _code_to(smtp_sink, "new@example.org")
        assert _change_email(other, step="confirm", code=code).status_code == 400
        assert _user(db).email == "alice@example.org"
        assert _change_email(client, step="confirm", code=code).status_code == 303
    assert _user(db).email == "new@example.org"


def test_resent_code_supersedes_and_the_address_is_where_it_went(
    client, db, alice, smtp_sink, distinct_codes
):
    """A second start (to another address, after the pause) supersedes the first code:
    the first code no longer works, and the change goes to the second address."""
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "alice")
        _change_email(client, step="start", email="first@example.org")
        first = _code_to(smtp_sink, "first@example.org")
        traveller.shift(60)
        assert _change_email(client, step="start", email="second@example.org").status_code == 200
        second = _code_to(smtp_sink, "second@example.org")
        assert first != second
        assert _change_email(client, step="confirm", code=first).status_code == 400
        assert _change_email(client, step="confirm", code=second).status_code == 303
    assert _user(db).email == "second@example.org"


def test_codes_are_per_purpose_and_account_for_the_same_binding(db, settings, alice):
    """The service itself, with one binding string for both purposes and two accounts:
    only the (account, purpose, binding) it was issued for accepts the code."""
    bob = make_user(db, "bob")
    db.commit()
    with time_machine.travel(T0, tick=False):
        issued = email_codes.issue(
            db, settings, alice.id, Purpose.EMAIL_CHANGE, "same", "new@example.org"
        )
        db.commit()
        code = issued.code
        as_sign_in = email_codes.verify(db, settings, alice.id, Purpose.MFA, "same", code)
        assert as_sign_in.outcome is Outcome.SPENT
        as_bob = email_codes.verify(db, settings, bob.id, Purpose.EMAIL_CHANGE, "same", code)
        assert as_bob.outcome is Outcome.SPENT
        right = email_codes.verify(db, settings, alice.id, Purpose.EMAIL_CHANGE, "same", code)
        assert (right.outcome, right.sent_to) == (Outcome.ACCEPTED, "new@example.org")
        again = email_codes.verify(db, settings, alice.id, Purpose.EMAIL_CHANGE, "same", code)
        assert again.outcome is Outcome.SPENT  # single use


def test_new_code_does_not_reset_the_counter_NIST_800_63B(client, db, alice, smtp_sink):
    """SECURITY.md 0.4 c: sending a new code leaves the failures counted."""
    rp = _email_rp(db)
    with time_machine.travel(T0, tick=False) as traveller:
        flow = Flow(client, rp).login()
        flow_id = query(flow.location)["flow"]
        _send_email(flow)
        code = _email_code(smtp_sink, "alice@example.org")
        for _ in range(3):
            flow.submit_code("email", _wrong(code))
        traveller.shift(90)
        page = client.get(f"/mfa/challenge?flow={flow_id}").get_data(as_text=True)
        resent = client.post(
            f"/mfa/email/send?flow={flow_id}", data={"csrf_token": csrf_token(page)}
        )
        assert resent.status_code == 303 and len(smtp_sink.to("alice@example.org")) == 2
        assert _user(db).failed_logins == 3
