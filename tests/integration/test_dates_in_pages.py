"""Dates for people in pages and the audit CSV (issue 9): Thai with the Buddhist-era year
(พ.ศ. = Gregorian + 543), English Gregorian, both in the deployment's zone
(IDP_TIMEZONE, Asia/Bangkok by default), stated where it matters; ISO 8601 stays in
the machine field (the CSV's ``when_utc``)."""

from __future__ import annotations

import csv
import io
from calendar import timegm

import pytest
import time_machine

from idp.audit import AuditTag, record
from idp.mfa import services as mfa
from idp.orgs import services as orgs
from tests.factories import csrf_token, login, make_user
from tests.otp import oathtool_code

T0 = 1_800_000_000  # 2027-01-15 08:00 UTC = 15:00 in Bangkok; Buddhist year 2570
NEW_YEAR = timegm((2026, 12, 31, 17, 30, 0))  # 00:30 on 1 Jan 2027 in Bangkok


def _factor_at(db, settings, user, t: int) -> None:
    with time_machine.travel(t, tick=False):
        factor, _ = mfa.start_totp(db, settings, user, "Phone")
        factor.status = "active"
        db.commit()


def _security_page(client, locale: str) -> str:
    login(client)
    page = client.get(f"/account/security?lang={locale}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_security_page_dates_are_buddhist_era_in_thai(app, client, db):
    alice = make_user(db)
    _factor_at(db, app.extensions["idp_settings"], alice, T0)
    page = _security_page(client, "th")
    assert "15 ม.ค. 2570 15:00" in page  # added, in Bangkok time
    assert "14 ม.ค. 2572" in page  # valid until (730 days), the date alone
    assert "2027" not in page and "2029" not in page


def test_security_page_dates_are_gregorian_in_english(app, client, db):
    alice = make_user(db)
    _factor_at(db, app.extensions["idp_settings"], alice, T0)
    page = _security_page(client, "en")
    assert "Jan 15, 2027, 3:00:00\u202fPM" in page
    assert "Jan 14, 2029" in page
    assert "2570" not in page and "2572" not in page


@pytest.mark.parametrize(
    ("timezone", "shown"),
    [("Asia/Bangkok", "1 ม.ค. 2570 00:30"), ("UTC", "31 ธ.ค. 2569 17:30")],
)
def test_pages_show_the_deployments_zone(app_factory, db, timezone, shown):
    """The same moment is on another day, month and year depending on IDP_TIMEZONE."""
    app = app_factory(timezone=timezone)
    alice = make_user(db)
    _factor_at(db, app.extensions["idp_settings"], alice, NEW_YEAR)
    assert shown in _security_page(app.test_client(), "th")


# --- The audit trail: the zone stated, the CSV's human column, days in the zone -------


@pytest.fixture
def console(app, db):
    """boss, admin of organisation A with a soft token; the console's address."""
    settings = app.extensions["idp_settings"]
    boss = make_user(db, "boss")
    factor, secret = mfa.start_totp(db, settings, boss, "Phone")
    factor.status = "active"
    org = orgs.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    orgs.add_member(db, org.id, boss, role="admin")
    db.commit()
    return {"org": org, "boss": boss, "secret": secret, "url": f"/orgs/{org.id}/admin"}


def _open_console(client, console, locale: str) -> None:
    client.set_cookie("idp_lang", locale, domain="localhost")
    login(client, "boss")
    challenge = client.get(console["url"]).headers["Location"]
    page = client.get(challenge).get_data(as_text=True)
    done = client.post(
        challenge,
        data={
            "method": "totp",
            "code": oathtool_code(console["secret"]),
            "csrf_token": csrf_token(page),
        },
    )
    assert done.headers["Location"] == console["url"]


def _event_at(db, console, t: int) -> None:
    with time_machine.travel(t, tick=False):
        record(
            db,
            AuditTag.ORG_PROFILE_CHANGED,
            actor=console["boss"].id,
            subject=None,
            org=console["org"].id,
            before="a",
            after="b",
        )
        db.commit()


@pytest.mark.parametrize(
    ("locale", "heading", "human"),
    [
        ("th", "วันและเวลา (Asia/Bangkok, UTC+07:00)", "15 ม.ค. 2570 15:00"),
        ("en", "Date and time (Asia/Bangkok, UTC+07:00)", "Jan 15, 2027, 3:00:00\u202fPM"),
    ],
)
def test_audit_csv_keeps_iso_and_adds_a_date_in_the_exporters_language(
    client, db, console, locale, heading, human
):
    _event_at(db, console, T0)
    _open_console(client, console, locale)
    page = client.get(f"{console['url']}/audit").get_data(as_text=True)
    assert "Asia/Bangkok, UTC+07:00" in page  # the page says which zone its times are in
    assert human in page
    body = client.get(f"{console['url']}/audit.csv?tag=org:profile:changed").data
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["when_utc", heading, "action"]
    (row,) = rows[1:]
    assert row[:3] == ["2027-01-15T08:00:00+00:00", human, "org:profile:changed"]


def test_audit_date_filter_days_are_the_zones_days(client, db, console):
    """An event at 03:00 on 16 January in Bangkok (20:00 UTC on the 15th) is on the
    16th, the day the table shows it on."""
    _event_at(db, console, timegm((2027, 1, 15, 20, 0, 0)))
    _open_console(client, console, "en")

    def found(day: str) -> bool:
        page = client.get(f"{console['url']}/audit?since={day}&until={day}")
        return "org:profile:changed</code>" in page.get_data(as_text=True)

    assert found("2027-01-16") and not found("2027-01-15")
