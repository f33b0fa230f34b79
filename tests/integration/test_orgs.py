"""Organisation services against the database (SECURITY.md E-03, E-07, E-08; A3, A4)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from idp.db import get_db
from idp.models import AuditEvent, Entitlement, Membership
from idp.orgs import services
from idp.orgs.entitlements import LastAdmin, MemberLimitReached, SeatLimitReached
from tests.factories import exchange, get_code, make_client, make_user

JURISTIC = "0105536092641"


@pytest.fixture
def org(db):
    org = services.create_org(
        db, kind="company", identifier=JURISTIC, name_th="บริษัท ตัวอย่าง", name_en="Example Co."
    )
    db.commit()
    return org


def _scope(db, org, seat_limit=3):
    rp = make_client(db, name="e-Invoice")
    services.allow_client(db, org.id, rp.client_id)
    scope = services.add_scope(
        db,
        rp.client_id,
        "einvoice:submit",
        seat_limit=seat_limit,
        description_en="Submit invoices",
        description_th="ส่งใบกำกับภาษี",
    )
    db.commit()
    return rp, scope


def test_member_limit_A4(db, org):
    org.member_limit = 2
    db.commit()
    for name in ("a1", "a2"):
        services.add_member(db, org.id, make_user(db, name))
    with pytest.raises(MemberLimitReached):
        services.add_member(db, org.id, make_user(db, "a3"))
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Membership)) == 2


def test_one_person_in_several_organisations_A5(db, org):
    other = services.create_org(db, kind="agency", identifier="MOC-01", name_th="กรม")
    user = make_user(db)
    services.add_member(db, org.id, user)
    services.add_member(db, other.id, user)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Membership)) == 2


def test_last_admin_cannot_leave_or_step_down_A3(db, org):
    boss = make_user(db, "boss")
    services.add_member(db, org.id, boss, role="admin")
    db.commit()
    with pytest.raises(LastAdmin):
        services.set_role(db, org.id, boss.id, "member")
    with pytest.raises(LastAdmin):
        services.remove_member(db, org.id, boss.id)
    db.rollback()
    successor = make_user(db, "next")
    services.add_member(db, org.id, successor, role="admin")
    services.remove_member(db, org.id, boss.id)
    db.commit()


def test_grant_refused_for_client_not_enabled_E03(db, org):
    user = make_user(db)
    services.add_member(db, org.id, user)
    other = make_client(db, name="Not for this org")
    scope = services.add_scope(db, other.client_id, "x:y")
    db.commit()
    with pytest.raises(LookupError):
        services.grant_scope(db, org.id, user.id, scope.id)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Entitlement)) == 0


def test_seat_limit_and_usage_A4(db, org):
    _, scope = _scope(db, org, seat_limit=3)
    users = [make_user(db, f"u{i}") for i in range(4)]
    for u in users:
        services.add_member(db, org.id, u)
    for u in users[:3]:
        services.grant_scope(db, org.id, u.id, scope.id)
    db.commit()
    assert services.seat_usage(db, org.id, scope.id) == (3, 3)
    with pytest.raises(SeatLimitReached):
        services.grant_scope(db, org.id, users[3].id, scope.id)
    db.rollback()
    services.revoke_scope(db, org.id, users[0].id, scope.id)
    services.grant_scope(db, org.id, users[3].id, scope.id)
    db.commit()
    assert services.held_scopes(db, org.id, users[3].id, scope.client_id) == {"einvoice:submit"}
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:scope:granted"))


def test_concurrent_grants_never_exceed_seats_E07(app, db, org):
    _, scope = _scope(db, org, seat_limit=5)
    users = [make_user(db, f"p{i:02d}") for i in range(24)]
    org.member_limit = 30
    db.commit()
    for u in users:
        services.add_member(db, org.id, u)
    for u in users[:4]:
        services.grant_scope(db, org.id, u.id, scope.id)
    db.commit()
    results, factory = [], get_db(app).factory

    def grant(user_id):
        with factory() as s:
            try:
                services.grant_scope(s, org.id, user_id, scope.id)
                s.commit()
                results.append("ok")
            except SeatLimitReached:
                s.rollback()
                results.append("full")

    threads = [threading.Thread(target=grant, args=(u.id,)) for u in users[4:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("full") == 19
    assert services.seat_usage(db, org.id, scope.id) == (5, 5)


def test_removed_member_loses_tokens_and_consents_E08(client, db, org):
    user = make_user(db)
    services.add_member(db, org.id, user)
    admin = make_user(db, "boss")
    services.add_member(db, org.id, admin, role="admin")
    rp = make_client(db, skip_consent=False)
    services.allow_client(db, org.id, rp.client_id)
    db.commit()
    code, verifier, _ = get_code(client, rp, scope="openid offline_access")
    tokens = exchange(client, rp, code, verifier).get_json()
    services.remove_member(db, org.id, user.id, actor=admin.id)
    db.commit()
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_operator_lowering_seats_races_grants_without_overbooking_E07(app, db, org):
    """The operator's new limit and the admins' grants serialise on the organisation row:
    whatever the order, the seats in use never exceed the limit that is in force."""
    from idp.admin.services import update_scope
    from idp.orgs.entitlements import LimitBelowUsage

    _, scope = _scope(db, org, seat_limit=12)
    users = [make_user(db, f"q{i:02d}") for i in range(14)]
    org.member_limit = 30
    operator = make_user(db, "op")
    db.commit()
    for u in users:
        services.add_member(db, org.id, u)
    for u in users[:4]:
        services.grant_scope(db, org.id, u.id, scope.id)
    db.commit()
    factory, outcome = get_db(app).factory, {}

    def grant(user_id):
        with factory() as s:
            try:
                services.grant_scope(s, org.id, user_id, scope.id)
                s.commit()
            except SeatLimitReached:
                s.rollback()

    def lower():
        with factory() as s:
            try:
                update_scope(
                    s,
                    scope.id,
                    seat_limit=6,
                    min_acr=scope.min_acr,
                    description_th="",
                    description_en="",
                    actor=operator.id,
                )
                s.commit()
                outcome["limit"] = 6
            except LimitBelowUsage:
                s.rollback()
                outcome["limit"] = 12

    threads = [threading.Thread(target=grant, args=(u.id,)) for u in users[4:]]
    threads.insert(3, threading.Thread(target=lower))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.expire_all()
    used, limit = services.seat_usage(db, org.id, scope.id)
    assert limit == outcome["limit"] and used <= limit
