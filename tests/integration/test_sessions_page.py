"""The sessions list on /account and ending sessions (issue 11; SECURITY.md S-03 "user
'sign out other devices' and admin 'terminate sessions' take effect immediately", S-04
session limits): device, address, applications per session; end one, end all others;
another person's session cannot be ended; the operator's "End all sessions" needs a
reason and is audited."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import select, update

from idp.db import now
from idp.models import AuditEvent, Grant, Token, WebSession
from tests.factories import confirm, csrf_token, exchange, get_code, login, make_client, make_user
from tests.integration.test_operator_console import _operator, world  # noqa: F401

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url, backchannel_logout_worker=False)


def _browser(app, ua, ip):
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=ua, REMOTE_ADDR=ip)
    c.set_cookie("idp_lang", "en", domain="localhost")
    return c


def _sids(db, user):
    db.expire_all()
    return set(db.scalars(select(WebSession.sid).where(WebSession.user_id == user.id)))


def _sid_of(db, user, ua):
    db.expire_all()
    return db.scalar(
        select(WebSession.sid).where(WebSession.user_id == user.id, WebSession.user_agent == ua)
    )


@pytest.fixture
def two_devices(app, db):
    alice = make_user(db)
    rp = make_client(db, name="e-Invoice")
    laptop = _browser(app, CHROME_WINDOWS, "203.0.113.7")
    phone = _browser(app, SAFARI_IPHONE, "198.51.100.20")
    code, verifier, _ = get_code(laptop, rp)
    exchange(laptop, rp, code, verifier)
    login(phone)
    return alice, rp, laptop, phone


def test_list_shows_device_address_times_and_applications(db, two_devices):
    alice, _rp, laptop, _phone = two_devices
    page = laptop.get("/account").get_data(as_text=True)
    section = page[page.index('id="sessions"') :]
    laptop_sid, phone_sid = _sid_of(db, alice, CHROME_WINDOWS), _sid_of(db, alice, SAFARI_IPHONE)
    mine = section[section.index(f'id="session-{laptop_sid}"') :]
    mine = mine[: mine.index("</li>")]
    assert "Chrome on Windows" in mine and "203.0.113.7" in mine and "e-Invoice" in mine
    assert 'id="this-device"' in mine and f'id="end-{laptop_sid}"' not in mine
    other = section[section.index(f'id="session-{phone_sid}"') :]
    other = other[: other.index("</li>")]
    assert "Safari on iPhone" in other and "198.51.100.20" in other
    assert "e-Invoice" not in other and "none yet" in other  # that session used no app
    assert f'id="end-{phone_sid}"' in other and 'id="this-device"' not in other
    assert page.index(f"session-{laptop_sid}") < page.index(f"session-{phone_sid}")


def test_dates_in_thai_use_the_buddhist_era(db, two_devices):
    _alice, _rp, laptop, _phone = two_devices
    laptop.set_cookie("idp_lang", "th", domain="localhost")
    page = laptop.get("/account").get_data(as_text=True)
    section = page[page.index('id="sessions"') :]
    # The shown text, not the <time datetime="..."> epoch (whose digits can hold "25xx").
    shown = re.search(r'session-started"><time[^>]*>([^<]*)<', section).group(1)
    year = int(re.search(r"\b(25\d\d)\b", shown).group(1))
    assert year >= 2568  # 2025 + 543


def test_end_one_other_session_signs_it_out_at_once_S03(app, db, two_devices):
    alice, rp, laptop, phone = two_devices
    phone_sid = _sid_of(db, alice, SAFARI_IPHONE)
    page = laptop.get("/account").get_data(as_text=True)
    asked = laptop.post(f"/account/sessions/{phone_sid}/end", data={"csrf_token": csrf_token(page)})
    assert phone_sid in _sids(db, alice)  # the confirmation page changed nothing yet
    done = confirm(laptop, asked)
    assert done.status_code == 303 and "m=session_ended" in done.headers["Location"]
    assert phone_sid not in _sids(db, alice) and len(_sids(db, alice)) == 1
    assert phone.get("/account").status_code == 302  # its next request: signed out
    assert laptop.get("/account").status_code == 200  # this one stays
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.tag == "account:sessions:ended"))
    assert event.actor_user_id == alice.id and event.details["sessions"] == 1


def test_end_all_others_keeps_this_one(app, db, two_devices):
    alice, rp, laptop, phone = two_devices
    third = _browser(app, "curl/8.0", "192.0.2.1")
    login(third)
    laptop_sid = _sid_of(db, alice, CHROME_WINDOWS)
    page = laptop.get("/account").get_data(as_text=True)
    assert "Unknown device" in page
    asked = laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_token(page)})
    assert "2 other sessions" in asked.get_data(as_text=True)
    confirm(laptop, asked)
    assert _sids(db, alice) == {laptop_sid}
    assert phone.get("/account").status_code == 302 and third.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200


def test_ending_a_session_ends_its_applications_refresh_tokens(app, db, two_devices):
    """The owner signs a device out: the grants made through it end as well (and its
    clients get logout tokens); grants of this session stay."""
    alice, rp, laptop, phone = two_devices
    code, verifier, _ = get_code(phone, rp)
    exchange(phone, rp, code, verifier)
    phone_sid = _sid_of(db, alice, SAFARI_IPHONE)
    page = laptop.get("/account").get_data(as_text=True)
    confirm(
        laptop,
        laptop.post(f"/account/sessions/{phone_sid}/end", data={"csrf_token": csrf_token(page)}),
    )
    db.expire_all()
    grants = {g.sid: g.revoked_at for g in db.scalars(select(Grant))}
    assert grants[phone_sid] is not None
    assert grants[_sid_of(db, alice, CHROME_WINDOWS)] is None


def test_cannot_end_another_persons_session(app, db, two_devices):
    """A sid of someone else's session: 404, and their session lives on."""
    alice, _rp, laptop, _phone = two_devices
    bob = make_user(db, "bob")
    bobs = _browser(app, CHROME_WINDOWS, "192.0.2.9")
    login(bobs, "bob")
    bob_sid = next(iter(_sids(db, bob)))
    page = laptop.get("/account").get_data(as_text=True)
    for data in (
        {"csrf_token": csrf_token(page)},
        {"csrf_token": csrf_token(page), "confirm": "yes"},
    ):
        assert laptop.post(f"/account/sessions/{bob_sid}/end", data=data).status_code == 404
    assert _sids(db, bob) == {bob_sid} and bobs.get("/account").status_code == 200


def test_ending_needs_csrf(db, two_devices):
    alice, _rp, laptop, _phone = two_devices
    phone_sid = _sid_of(db, alice, SAFARI_IPHONE)
    laptop.post(f"/account/sessions/{phone_sid}/end", data={"confirm": "yes"})
    laptop.post("/account/sessions/end-others", data={"confirm": "yes"})
    assert phone_sid in _sids(db, alice)


def test_idle_and_absolute_limits_S04(app, db, two_devices):
    """SECURITY.md 7: 1 h without use, 24 h after sign-in (the consoles' 15 min / 12 h
    are the console guard's, tests/integration/test_operator_console.py)."""
    settings = app.extensions["idp_settings"]
    assert (settings.session_idle_ttl, settings.session_absolute_ttl) == (3600, 86400)
    _alice, _rp, laptop, phone = two_devices
    t = now()
    with time_machine.travel(t + 3540, tick=False):
        assert laptop.get("/account").status_code == 200  # 59 min: still on, touched
    with time_machine.travel(t + 3540 + 3601, tick=False):
        assert laptop.get("/account").status_code == 302  # 60 min idle after that
    for minutes in range(50, 23 * 60, 50):  # used every 50 minutes: on until 24 h
        with time_machine.travel(t + minutes * 60, tick=False):
            assert phone.get("/account").status_code == 200
    with time_machine.travel(t + 86401, tick=False):
        assert phone.get("/account").status_code == 302


def test_operator_ends_all_sessions_with_a_reason_audited(app, db, world, two_devices):  # noqa: F811
    alice, _rp, laptop, phone = two_devices
    op = app.test_client()
    page = _operator(op, world, f"/operator/people?q={alice.username}")
    assert f'id="end-sessions-{alice.username}"' in page
    url = f"/operator/people/{alice.id}/sessions/end?q={alice.username}"
    missing = op.post(url, data={"csrf_token": csrf_token(page), "reason": "  "})
    assert "sessions_reason_missing" in missing.headers["Location"]
    assert len(_sids(db, alice)) == 2
    done = op.post(url, data={"csrf_token": csrf_token(page), "reason": "Laptop stolen"})
    assert "m=sessions_ended" in done.headers["Location"]
    assert _sids(db, alice) == set()
    assert laptop.get("/account").status_code == 302 and phone.get("/account").status_code == 302
    db.expire_all()
    assert all(t.revoked_at is not None for t in db.scalars(select(Token)))
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:user:sessions_ended"))
    assert event.actor_user_id == world["op"].id and event.subject_user_id == alice.id
    assert event.details == {"sessions": 2, "reason": "Laptop stolen"}
    shown = op.get(done.headers["Location"]).get_data(as_text=True)
    assert "signed out everywhere" in shown


def test_an_expired_session_waiting_for_the_job_is_not_listed_S04(app, db, two_devices):
    """Past its idle lifetime the phone's session is refused, and its row waits for
    `idp jobs run` (which tells its clients); the laptop's list no longer shows it."""
    alice, _rp, laptop, _phone = two_devices
    idle = app.extensions["idp_settings"].session_idle_ttl
    phone_sid = _sid_of(db, alice, SAFARI_IPHONE)
    db.execute(
        update(WebSession).where(WebSession.sid == phone_sid).values(last_seen=now() - idle - 5)
    )
    db.commit()
    page = laptop.get("/account").get_data(as_text=True)
    assert "Chrome on Windows" in page and "Safari on iPhone" not in page
    assert phone_sid in _sids(db, alice)
