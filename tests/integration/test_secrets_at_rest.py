"""Secrets at rest, read straight from the database (every table, every column, over
a connection of its own, not through the models): what a stolen backup shows.

- TOTP seeds are encrypted (SECURITY.md 7, ASVS 6.5.x: the base32 secret is absent);
- emailed codes and recovery codes are stored only as keyed hashes (SECURITY.md 7
  "stored hashed"): neither the code nor a bare SHA-256 of it, which the million
  possible codes would reverse at once;
- browser session ids are stored hashed (ASVS 7.4.1, SECURITY.md 0.8): the cookie
  value is absent, so the table cannot be used to ride a session.
"""

from __future__ import annotations

import hashlib
import re

import pytest
import time_machine
from sqlalchemy import select, text

from idp import crypto
from idp.db import get_db
from idp.mfa import services
from idp.models import Base, User
from idp.oidc.acr import ACR_MFA_EMAIL
from tests.factories import csrf_token, login, make_client, make_user
from tests.integration.test_mfa import T0, Flow, _client_row, _email_code, _send_email


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


@pytest.fixture
def alice(db):
    return make_user(db)


def dump(app, *tables: str) -> str:
    """Every value of every row of ``tables`` (default: all), as one text."""
    names = tables or tuple(t.name for t in Base.metadata.sorted_tables)
    parts = []
    with get_db(app).engine.connect() as conn:
        for name in names:
            for row in conn.execute(text(f"SELECT * FROM {name}")):  # noqa: S608 - our names
                parts.extend(v.hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
    return "\n".join(parts)


def count(app, table: str) -> int:
    with get_db(app).engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608


def has_number(haystack: str, code: str) -> bool:
    """The 6-digit code as a number of its own (not inside a longer one, e.g. a time)."""
    return re.search(rf"(?<!\d){code}(?!\d)", haystack) is not None


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_totp_seed_is_encrypted_at_rest(app, db, settings, alice):
    user = db.scalar(select(User).where(User.username_key == "alice"))
    factor, secret = services.start_totp(db, settings, user, "Phone")
    db.commit()
    rows = dump(app, "mfa_factors")
    assert factor.secret_enc and factor.secret_enc in rows  # the row under test is there
    assert secret not in rows and secret.lower() not in rows
    assert crypto.decrypt(settings.secret_key, factor.secret_enc) == secret


def test_sign_in_email_code_is_stored_only_as_keyed_hash(app, client, db, alice, smtp_sink):
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA_EMAIL
    db.commit()
    with time_machine.travel(T0, tick=False):
        flow = Flow(client, rp).login()
        assert _send_email(flow).status_code == 303
        code = _email_code(smtp_sink, "alice@example.org")
    everything = dump(app)
    assert count(app, "email_codes") == 1  # the code's row is there
    assert not has_number(everything, code)
    assert sha256(code) not in everything


def test_email_change_code_is_stored_only_as_keyed_hash(app, client, db, alice, smtp_sink):
    """Also not in the server-side session data (web_sessions.data)."""
    login(client, "alice")
    page = client.get("/account/email").get_data(as_text=True)
    resp = client.post(
        "/account/email",
        data={"step": "start", "email": "new@example.org", "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 200
    code = _email_code(smtp_sink, "new@example.org")
    everything = dump(app)
    assert not has_number(everything, code)
    assert sha256(code) not in everything
    assert count(app, "email_codes") == 1


def test_recovery_codes_are_stored_only_as_keyed_hashes(app, db, settings, alice):
    user = db.scalar(select(User).where(User.username_key == "alice"))
    codes = services.regenerate_recovery_codes(db, settings, user)
    db.commit()
    everything = dump(app)
    assert len(codes) == count(app, "recovery_codes") == 10
    for code in codes:
        assert code not in everything and code.replace("-", "") not in everything
        assert sha256(code) not in everything


def test_session_id_is_stored_hashed_ASVS_7_4_1(app, client, db, alice):
    assert login(client, "alice").status_code == 303
    cookie = client.get_cookie("idp_session")
    assert cookie is not None and len(cookie.value) >= 43  # 256 bits, base64url
    assert count(app, "web_sessions") == 1  # the session's row is there
    assert cookie.value not in dump(app)
