"""Changing one's own email (SECURITY.md M-11): re-authentication, a code sent to the
new address over SMTP, limited tries, the old address told, an audit record."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import select

from idp.models import AuditEvent, User
from tests.factories import csrf_token, login, mail_text, make_user
from tests.integration.test_mfa import T0


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


def _code(smtp_sink, address):
    mail = smtp_sink.to(address)[-1]
    return re.search(r"\b(\d{6})\b", mail_text(mail)).group(1)


def _post(client, **data):
    page = client.get("/account/email").get_data(as_text=True)
    return client.post("/account/email", data={**data, "csrf_token": csrf_token(page)})


def test_email_change_with_code_to_the_new_address(client, db, smtp_sink):
    make_user(db, "alice")
    db.commit()
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "alice")
    sent = _post(client, step="start", email="alice.new@example.org")
    assert sent.status_code == 200 and "We sent a 6-digit code" in sent.get_data(as_text=True)
    wrong = _post(client, step="confirm", code="000000")
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    done = _post(client, step="confirm", code=_code(smtp_sink, "alice.new@example.org"))
    assert done.status_code == 303 and "m=email_changed" in done.headers["Location"]
    user = db.scalar(select(User).where(User.username_key == "alice"))
    assert (user.email, user.email_verified) == ("alice.new@example.org", True)
    assert smtp_sink.to("alice@example.org")  # the old address is told
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "account:email:changed"))
    assert (event.details["before"], event.details["after"]) == (
        "alice@example.org",
        "alice.new@example.org",
    )


def test_email_change_needs_a_recent_password_M11(client, db):
    make_user(db, "alice")
    db.commit()
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "alice")
        assert client.get("/account/email").status_code == 200
        traveller.shift(11 * 60)
        resp = client.get("/account/email")
        assert resp.status_code == 303 and "/login?next=email" in resp.headers["Location"]


def test_bad_addresses_and_limits(client, db, smtp_sink):
    make_user(db, "alice")
    make_user(db, "bob")
    db.commit()
    client.set_cookie("idp_lang", "en", domain="localhost")
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "alice")
        for email, message in [
            ("not-an-email", "not valid"),
            ("ALICE@example.org", "already your email"),
            ("bob@example.org", "Another account"),
        ]:
            resp = _post(client, step="start", email=email)
            assert resp.status_code == 400 and message in resp.get_data(as_text=True)
        assert smtp_sink.messages == []
        assert _post(client, step="start", email="a2@example.org").status_code == 200
        again = _post(client, step="start", email="a3@example.org")
        assert again.status_code == 400 and "less than a minute" in again.get_data(as_text=True)
        for _ in range(5):
            last = _post(client, step="confirm", code="000000")
        assert "tried too often" in last.get_data(as_text=True)
        right = _post(client, step="confirm", code=_code(smtp_sink, "a2@example.org"))
        assert right.status_code == 400  # spent: even the right code no longer works
        traveller.shift(61)
        assert _post(client, step="start", email="a3@example.org").status_code == 200
    assert db.scalar(select(User.email).where(User.username_key == "alice")) == "alice@example.org"


def test_email_change_needs_csrf_S05(client, db, smtp_sink):
    make_user(db, "alice")
    db.commit()
    login(client, "alice")
    resp = client.post("/account/email", data={"step": "start", "email": "x@example.org"})
    assert resp.status_code in (200, 400) and smtp_sink.messages == []
