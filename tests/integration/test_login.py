"""Password login, lockout, sessions and headers (SECURITY.md A-01..A-06, S-01..S-06)."""

from __future__ import annotations

import re
import threading
from unittest import mock

import pytest
import time_machine
from sqlalchemy import select

from idp.account import services
from idp.models import User, WebSession
from tests.factories import PASSWORD, csrf_token, login, make_user

GENERIC = b"Sign-in failed"
PAUSED = b"is paused for a few minutes"


@pytest.fixture
def alice(db):
    return make_user(db)


def _en(client):
    client.set_cookie("idp_lang", "en", domain="localhost")


def _post_login(client, username, password):
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def _body(resp) -> bytes:
    return re.sub(rb'value="[^"]+"', b'value=""', resp.data)


def test_correct_password_signs_in(client, alice):
    resp = login(client)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/account")
    assert b"alice" in client.get("/account").data


def test_lockout_after_five_failures_even_for_right_password_A01(client, alice):
    _en(client)
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        for _ in range(4):
            assert GENERIC in _post_login(client, "alice", "wrong password!").data
        assert PAUSED in _post_login(client, "alice", "wrong password!").data
        locked = _post_login(client, "alice", PASSWORD)
        wrong = _post_login(client, "alice", "wrong password!")
        assert locked.status_code == wrong.status_code == 200
        assert _body(locked) == _body(wrong)
        assert PAUSED in locked.data and b"5 minutes" in locked.data
        traveller.shift(299)
        assert PAUSED in _post_login(client, "alice", PASSWORD).data
        traveller.shift(2)
        assert _post_login(client, "alice", PASSWORD).status_code == 303


def test_unknown_and_existing_users_get_identical_answers_A02(app, client, alice):
    _en(client)
    unknown = _post_login(client, "nobody-here", "wrong password!")
    existing = _post_login(client, "alice", "wrong password!")
    assert unknown.status_code == existing.status_code
    assert _body(unknown) == _body(existing)
    assert unknown.headers.get("Set-Cookie") == existing.headers.get("Set-Cookie")


def test_unknown_user_costs_a_hash_verification_A02(client, alice):
    with mock.patch.object(
        services, "burn_verification_time", wraps=services.burn_verification_time
    ) as burn:
        _post_login(client, "nobody-here", "wrong password!")
    assert burn.call_count == 1


def test_success_resets_counter_and_locked_attempts_do_not_extend_A04(client, db, alice):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        for _ in range(4):
            _post_login(client, "alice", "wrong password!")
        assert _post_login(client, "alice", PASSWORD).status_code == 303
        user = db.scalar(select(User).where(User.username_key == "alice"))
        db.refresh(user)
        assert user.failed_logins == 0
        client.post("/account/logout")
        fresh = client.application.test_client()
        for _ in range(5):
            _post_login(fresh, "alice", "wrong password!")
        db.refresh(user)
        locked_until = user.locked_until
        assert locked_until == 1_900_000_000 + 300
        traveller.shift(120)
        _post_login(fresh, "alice", "wrong password!")
        db.refresh(user)
        assert user.locked_until == locked_until and user.failed_logins == 5


@pytest.mark.parametrize(
    "variant",
    ["ALICE", "ALİCE", "  alice  ", "ａｌｉｃｅ", "alice@example.org", "Alice@Example.ORG"],
)
def test_username_variants_reach_same_account_and_counter_A05(client, db, alice, variant):
    _post_login(client, variant, "wrong password!")
    user = db.scalar(select(User).where(User.username_key == "alice"))
    db.refresh(user)
    assert user.failed_logins == 1
    assert _post_login(client, variant, PASSWORD).status_code == 303


def test_parallel_guesses_verify_at_most_five_passwords_A06(app, db, alice):
    calls = []
    real = services.verify_password

    def counting(h, p):
        calls.append(p)
        return real(h, p)

    results = []

    def guess():
        c = app.test_client()
        results.append(_post_login(c, "alice", "wrong password!").status_code)

    with mock.patch.object(services, "verify_password", counting):
        threads = [threading.Thread(target=guess) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(calls) <= 5
    user = db.scalar(select(User).where(User.username_key == "alice"))
    db.refresh(user)
    assert user.failed_logins == 5 and user.locked_until is not None
    assert results == [200] * 20


def test_a_right_password_elsewhere_meanwhile_does_not_pause_the_name_A06(app, db):
    """Two devices sign in with one name at once: the first right password deletes the
    name's count between the second attempt's insert and its slot update. The second
    attempt must count again, not read the vanished count as "paused" (found by
    bench/bench.py's parallel logins of one person)."""
    from idp.account import lockout
    from idp.db import now

    key = lockout.identifier_digest(app.extensions["idp_settings"].secret_key, "alice")
    real = lockout._ensure_identifier_row
    meanwhile = []

    def ensure_then_another_device_succeeds(session, key_hash, t):
        real(session, key_hash, t)
        if not meanwhile:
            meanwhile.append(1)
            lockout.sign_in_succeeded(session, key_hash)

    with mock.patch.object(lockout, "_ensure_identifier_row", ensure_then_another_device_succeeds):
        by_name, _ = lockout.reserve_sign_in(db, key, None, now(), threshold=5)
    assert meanwhile and by_name


def test_per_ip_throttle_returns_429(app_factory, alice):
    app = app_factory(login_rate_limit="3 per minute")
    client = app.test_client()
    codes = [_post_login(client, "alice", "wrong password!").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_session_cookie_flags_with_https_issuer_S01(app_factory, db):
    app = app_factory(issuer="https://idp.example.org")
    make_user(db)
    client = app.test_client()
    page = client.get("/login", base_url="https://idp.example.org")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 256 random bits, base64url
    assert "Strict-Transport-Security" in page.headers


def test_session_id_changes_at_login_S02(client, alice):
    client.get("/login")
    before = client.get_cookie("idp_session").value
    login(client)
    after = client.get_cookie("idp_session").value
    assert before != after


def test_fixated_session_cookie_is_replaced_S02(app, client, db, alice):
    """ASVS 7.2.4 / SECURITY.md S-02: the attacker plants a real, pre-login session id
    of ours (an unknown value would be replaced even without rotation); after the
    victim signs in, that id must not be signed in."""
    attacker = app.test_client()
    attacker.get("/login")  # the server gives the attacker a session (CSRF token in it)
    planted = attacker.get_cookie("idp_session").value
    assert db.scalar(select(WebSession).where(WebSession.user_id.is_(None))) is not None
    client.set_cookie("idp_session", planted, domain="localhost")
    assert login(client).status_code == 303
    assert client.get_cookie("idp_session").value != planted
    assert client.get("/account").status_code == 200
    assert attacker.get("/account").status_code == 302  # the planted id is not signed in


def test_session_expires_after_idle_hour_S04(client, alice):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        login(client)
        traveller.shift(3599)
        assert client.get("/account").status_code == 200
        traveller.shift(3599)
        assert client.get("/account").status_code == 200
        traveller.shift(3601)
        assert client.get("/account").status_code == 302


def test_session_absolute_limit_S04(client, alice):
    with time_machine.travel(1_900_000_000, tick=False) as traveller:
        login(client)
        statuses = []
        for _ in range(30):  # 30 x 50 min: always active, but past 24 h in the end
            traveller.shift(3000)
            statuses.append(client.get("/account").status_code)
    assert statuses[:28] == [200] * 28
    assert statuses[-1] == 302


def test_login_without_csrf_token_is_refused_S05(client, db, alice):
    resp = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/account").status_code == 302


def test_logout_needs_post_with_csrf_S05(client, alice):
    login(client)
    assert client.get("/account/logout").status_code == 405
    client.post("/account/logout", data={})
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("path", ["/login", "/authorize?client_id=x", "/nope"])
def test_security_headers_on_pages_S06(client, path):
    resp = client.get(path)
    h = resp.headers
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert "object-src 'none'" in h["Content-Security-Policy"]
    assert "base-uri 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cache-Control"] == "no-store"


def test_trace_is_405_and_unknown_path_is_generic_404_I08_D04(client):
    assert client.open("/authorize", method="TRACE").status_code == 405
    resp = client.get("/does-not-exist")
    assert resp.status_code == 404 and b"Traceback" not in resp.data


def test_cors_only_for_allow_listed_origins_S07(app_factory):
    app = app_factory(cors_origins="https://spa.example.org")
    client = app.test_client()
    ok = client.get("/userinfo", headers={"Origin": "https://spa.example.org"})
    evil = client.get("/userinfo", headers={"Origin": "https://evil.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://spa.example.org"
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert "Access-Control-Allow-Credentials" not in evil.headers
    authz = client.get("/authorize", headers={"Origin": "https://spa.example.org"})
    assert "Access-Control-Allow-Origin" not in authz.headers


def test_pages_in_thai_and_english(client):
    assert "เข้าสู่ระบบ".encode() in client.get("/login?lang=th").data
    assert b"Sign in" in client.get("/login?lang=en").data
    # The choice sticks in a cookie.
    assert b"Sign in" in client.get("/login").data
    assert (
        "เข้าสู่ระบบ".encode()
        in client.get("/login", headers={"Accept-Language": "th"}, query_string={"lang": "th"}).data
    )


def test_accept_language_picks_locale(app):
    fresh = app.test_client()
    assert b'lang="en"' in fresh.get("/login", headers={"Accept-Language": "en-GB,en"}).data
    assert b'lang="th"' in app.test_client().get("/login", headers={"Accept-Language": "th"}).data


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "/\\evil", "javascript:alert(1)"]
)
def test_next_parameter_is_never_an_open_redirect_I08(client, alice, target):
    page = client.get("/login", query_string={"next": target})
    resp = client.post(
        "/login",
        query_string={"next": target},
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


def test_next_security_returns_to_the_security_page(client, alice):
    page = client.get("/login?next=security")
    resp = client.post(
        "/login?next=security",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert resp.headers["Location"] == "/account/security"
