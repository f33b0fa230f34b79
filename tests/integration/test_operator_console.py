"""The operator console: who may enter, organisation status, limits, clients, scopes,
the A7 email change and the audit search (issue 4; SECURITY.md E-04, S-04, S-05)."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import select

from idp.mfa import services as mfa
from idp.models import (
    AuditEvent,
    Client,
    ClientScope,
    Entitlement,
    Grant,
    Membership,
    Organization,
    OrgClient,
    Token,
)
from idp.orgs import services
from idp.orgs.login import candidate_orgs
from tests.factories import (
    confirm,
    csrf_token,
    exchange,
    get_code,
    login,
    make_client,
    make_user,
    query,
)
from tests.integration.test_mfa import T0
from tests.integration.test_org_console import _join, _link
from tests.otp import oathtool_code


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    op, boss, ann = make_user(db, "op"), make_user(db, "boss"), make_user(db, "ann")
    op.is_operator = True
    factor, secret = mfa.start_totp(db, settings, op, "Phone")
    factor.status = "active"
    rp = make_client(db, name="e-Invoice")
    other_rp = make_client(db, name="Search")
    scope = services.add_scope(db, rp.client_id, "einvoice:submit", seat_limit=3)
    active = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    pending = services.create_org(
        db, kind="agency", identifier="MOC-01", name_th="B", status="pending"
    )
    services.allow_client(db, active.id, rp.client_id)
    services.add_member(db, active.id, boss, role="admin")
    services.add_member(db, active.id, ann)
    services.grant_scope(db, active.id, ann.id, scope.id)
    services.grant_scope(db, active.id, boss.id, scope.id)
    db.commit()
    return {
        "op": op,
        "secret": secret,
        "rp": rp,
        "other_rp": other_rp,
        "scope": scope,
        "active": active,
        "pending": pending,
        "boss": boss,
        "ann": ann,
    }


def _operator(client, world, path="/operator/orgs"):
    """Sign in as the operator and pass the console's TOTP step-up; returns the page."""
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "op")
    resp = client.get(path)
    assert "/mfa/challenge" in resp.headers["Location"]  # consoles always need mfa
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    done = client.post(
        resp.headers["Location"],
        data={
            "method": "totp",
            "code": oathtool_code(world["secret"]),
            "csrf_token": csrf_token(page),
        },
    )
    assert done.headers["Location"] == path
    page = client.get(path)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _post(client, path, page, **data):
    if 'name="csrf_token"' not in page:  # a page without forms: any page's token will do
        page = client.get("/account").get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token(page)})


def _confirmed(client, path, page, **data):
    """A POST that asks for confirmation first (approve, suspend), then its "Yes"."""
    return confirm(client, _post(client, path, page, **data))


def test_non_operator_gets_404_and_is_audited(client, db, world):
    login(client, "boss")
    assert client.get("/operator/orgs").status_code == 404
    page = client.get("/account").get_data(as_text=True)
    resp = _post(client, f"/operator/orgs/{world['pending'].id}/status", page, action="approve")
    assert resp.status_code == 404
    assert db.get(Organization, world["pending"].id).status == "pending"
    denied = db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:console:denied")).all()
    assert len(denied) == 2 and denied[0].actor_user_id == world["boss"].id


def test_operator_lists_pending_first_and_filters(client, world):
    page = _operator(client, world)
    assert page.index("MOC-01") < page.index("0105536092641")  # pending first
    assert re.search(r"<title>[^<]*</title>", page)  # nothing but text in the title
    assert page.count('id="add-org"') == 1
    only = client.get("/operator/orgs?status=active").get_data(as_text=True)
    assert "0105536092641" in only and "MOC-01" not in only
    found = client.get("/operator/orgs?q=moc").get_data(as_text=True)
    assert "MOC-01" in found and "0105536092641" not in found
    wildcard = client.get("/operator/orgs?q=%25").get_data(as_text=True)  # a literal %
    assert "No organisation matches" in wildcard


def test_approve_records_before_after_and_second_approve_conflicts(client, db, world, smtp_sink):
    services.add_member(db, world["pending"].id, world["ann"], role="admin")
    db.commit()
    page = _operator(client, world)
    url = f"/operator/orgs/{world['pending'].id}/status"
    ok = _confirmed(client, url, page, action="approve")
    assert query(ok.headers["Location"])["m"] == "saved"
    (mail,) = smtp_sink.to("ann@example.org")  # the organisation's admin is told
    assert "อนุมัติแล้ว" in mail["Subject"]
    db.expire_all()
    assert db.get(Organization, world["pending"].id).status == "active"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:org:status"))
    assert event.details["before"] == "pending" and event.details["after"] == "active"
    assert event.actor_user_id == world["op"].id and event.org_id == world["pending"].id
    again = _post(client, url, page, action="approve")
    assert query(again.headers["Location"])["m"] == "status_conflict"
    shown = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "current status" in shown
    assert "has not entered any yet" in shown  # no contact data or address yet


def test_suspending_ends_tokens_and_blocks_login_for_the_org(app, client, db, world):
    """Tokens issued to a person acting for the organisation end at once (E-08 spirit)."""
    rp, ann = world["rp"], world["ann"]
    member = app.test_client()
    code, verifier, _ = get_code(member, rp, scope="openid einvoice:submit", username="ann")
    tokens = exchange(member, rp, code, verifier).get_json()
    assert "einvoice:submit" in tokens["scope"]
    page = _operator(client, world)
    _confirmed(client, f"/operator/orgs/{world['active'].id}/status", page, action="suspend")
    db.expire_all()
    grant = db.scalar(select(Grant).where(Grant.user_id == ann.id))
    assert grant.revoked_at is not None
    assert all(t.revoked_at for t in db.scalars(select(Token).where(Token.grant_id == grant.id)))
    assert candidate_orgs(db, ann.id, rp.client_id) == []
    info = member.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401


def test_member_limit_cannot_drop_below_members(client, db, world):
    page = _operator(client, world)
    url = f"/operator/orgs/{world['active'].id}/limit"
    low = _post(client, url, page, member_limit="1")
    assert query(low.headers["Location"])["m"] == "limit_below_usage"
    bad = _post(client, url, page, member_limit="ten")
    assert query(bad.headers["Location"])["m"] == "limit_invalid"
    zero = _post(client, url, page, member_limit="0")
    assert query(zero.headers["Location"])["m"] == "limit_invalid"
    ok = _post(client, url, page, member_limit="25")
    assert query(ok.headers["Location"])["m"] == "saved"
    db.expire_all()
    assert db.get(Organization, world["active"].id).member_limit == 25
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:org:member_limit"))
    assert (event.details["before"], event.details["after"]) == (10, 25)


def test_taking_a_client_away_revokes_its_rights(client, db, world):
    page = _operator(client, world)
    org_id = world["active"].id
    url = f"/operator/orgs/{org_id}/clients"
    unknown = _post(client, url, page, client_id=["no-such-client"])
    assert unknown.status_code == 400
    ok = _post(client, url, page, client_id=[world["other_rp"].client_id])
    assert ok.status_code == 303
    db.expire_all()
    allowed = set(db.scalars(select(OrgClient.client_id).where(OrgClient.org_id == org_id)))
    assert allowed == {world["other_rp"].client_id}
    assert db.scalars(select(Entitlement)).all() == []
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:org:clients"))
    assert event.details["before"] == {world["rp"].client_id: None}


def test_scope_settings_refuse_seat_limit_below_usage(client, db, world):
    page = _operator(client, world, "/operator/clients")
    assert "einvoice:submit" in page
    url = f"/operator/scopes/{world['scope'].id}"
    fields = {
        "description_th": "ส่งใบกำกับ",
        "description_en": "Submit",
        "min_acr": "urn:idp:acr:mfa",
    }
    low = _post(client, url, page, seat_limit="1", **fields)
    assert query(low.headers["Location"])["m"] == "limit_below_usage"
    level = _post(client, url, page, seat_limit="5", **{**fields, "min_acr": "urn:x"})
    assert query(level.headers["Location"])["m"] == "level_invalid"
    ok = _post(client, url, page, seat_limit="5", **fields)
    assert query(ok.headers["Location"])["m"] == "saved"
    db.expire_all()
    scope = db.get(ClientScope, world["scope"].id)
    assert (scope.seat_limit, scope.min_acr, scope.description_en) == (
        5,
        "urn:idp:acr:mfa",
        "Submit",
    )
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:scope:changed"))
    assert event.details["before"]["seat_limit"] == 3 and event.details["after"]["seat_limit"] == 5
    unlimited = _post(client, url, page, seat_limit="", **fields)
    assert query(unlimited.headers["Location"])["m"] == "saved"
    db.expire_all()
    assert db.get(ClientScope, world["scope"].id).seat_limit is None


def test_operator_changes_the_only_admins_email_A7(client, db, world, smtp_sink):
    page = _operator(client, world)
    url = f"/operator/orgs/{world['active'].id}/members/{world['boss'].id}/email"
    taken = _post(client, url, page, email="ann@example.org")
    assert query(taken.headers["Location"])["m"] == "email_taken"
    ok = _post(client, url, page, email="boss.new@example.org")
    assert query(ok.headers["Location"])["m"] == "email_changed"
    assert smtp_sink.to("boss@example.org") and smtp_sink.to("boss.new@example.org")
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:email_changed"))
    assert event.details["after"] == "boss.new@example.org"
    other = f"/operator/orgs/{world['pending'].id}/members/{world['boss'].id}/email"
    assert _post(client, other, page, email="x@example.org").status_code == 404


def test_audit_search_filters_and_exports(client, db, world):
    page = _operator(client, world, "/operator/audit")
    _confirmed(client, f"/operator/orgs/{world['pending'].id}/status", page, action="approve")
    by_org = client.get("/operator/audit?org=MOC-01").get_data(as_text=True)
    assert "op:org:status</code>" in by_org and "org:scope:granted</code>" not in by_org
    assert "pending approval → active" in by_org  # values as labels (issue 9)
    by_tag = client.get("/operator/audit?tag=org:scope:granted").get_data(as_text=True)
    assert by_tag.count("org:scope:granted</code>") == 2
    by_actor = client.get("/operator/audit?actor=op").get_data(as_text=True)
    assert "op:org:status" in by_actor and "org:scope:granted</code>" not in by_actor
    future = client.get("/operator/audit?since=2999-01-01").get_data(as_text=True)
    assert "Nothing matches" in future
    unknown = client.get("/operator/audit?org=NOPE").get_data(as_text=True)
    assert "Nothing matches" in unknown
    csv_resp = client.get("/operator/audit.csv?org=MOC-01")
    lines = csv_resp.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith(
        'when_utc,"Date and time (Asia/Bangkok, UTC+07:00)",action,action_label,organisation'
    )
    assert len(lines) == 2 and "MOC-01" in lines[1]


def test_operator_posts_need_csrf_S05(client, db, world):
    _operator(client, world)
    resp = client.post(f"/operator/orgs/{world['pending'].id}/status", data={"action": "approve"})
    assert resp.status_code in (303, 400)
    assert db.get(Organization, world["pending"].id).status == "pending"


def test_console_idle_15_minutes_needs_login_again_S04(client, world):
    with time_machine.travel(T0, tick=False) as traveller:
        _operator(client, world)
        traveller.shift(14 * 60)
        assert client.get("/operator/orgs").status_code == 200  # 14 min: still fine
        traveller.shift(14 * 60)
        assert client.get("/operator/clients").status_code == 200  # idle clock restarted
        traveller.shift(16 * 60)
        resp = client.get("/operator/orgs")
        assert resp.status_code == 303 and "/login" in resp.headers["Location"]


def test_operator_limits_which_scopes_of_a_client_an_org_may_grant_E03(client, db, world):
    """Operators decide the clients and the scopes: a scope taken away is revoked from
    the members and can no longer be granted by the org admin."""
    rp, org_id = world["rp"], world["active"].id
    view = services.add_scope(db, rp.client_id, "einvoice:view")
    db.commit()
    page = _operator(client, world, f"/operator/orgs/{org_id}")
    assert f'id="scope-{rp.client_id}-einvoice-view" checked' in page
    resp = _post(
        client,
        f"/operator/orgs/{org_id}/clients",
        page,
        **{"client_id": [rp.client_id], f"scope:{rp.client_id}": ["einvoice:view"]},
    )
    assert resp.status_code == 303
    db.expire_all()
    row = db.scalar(select(OrgClient).where(OrgClient.org_id == org_id))
    assert row.scopes == ["einvoice:view"]
    assert db.scalars(select(Entitlement)).all() == []  # einvoice:submit taken from both
    with pytest.raises(LookupError):
        services.grant_scope(db, org_id, world["ann"].id, world["scope"].id)
    db.rollback()
    services.grant_scope(db, org_id, world["ann"].id, view.id)
    db.commit()
    assert [s.name for s in services.grantable_scopes(db, org_id)] == ["einvoice:view"]
    bad = _post(
        client,
        f"/operator/orgs/{org_id}/clients",
        page,
        **{"client_id": [rp.client_id], f"scope:{rp.client_id}": ["einvoice:nope"]},
    )
    assert bad.status_code == 400
    all_again = _post(
        client,
        f"/operator/orgs/{org_id}/clients",
        page,
        **{
            "client_id": [rp.client_id],
            f"scope:{rp.client_id}": ["einvoice:view", "einvoice:submit"],
        },
    )
    assert all_again.status_code == 303
    db.expire_all()
    assert db.scalar(select(OrgClient).where(OrgClient.org_id == org_id)).scopes is None


def test_operator_declares_a_new_right_for_a_client(client, db, world):
    page = _operator(client, world, "/operator/clients")
    url = f"/operator/clients/{world['rp'].client_id}/scopes"
    fields = {"description_th": "ดู", "description_en": "View", "min_acr": "urn:idp:acr:pwd"}
    for name in ("openid", "Einvoice:View", "einvoice:submit"):
        refused = _post(client, url, page, name=name, seat_limit="", **fields)
        expected = "scope_exists" if name == "einvoice:submit" else "scope_name_invalid"
        assert query(refused.headers["Location"])["m"] == expected
    ok = _post(client, url, page, name="einvoice:view", seat_limit="2", **fields)
    assert query(ok.headers["Location"])["m"] == "scope_added"
    db.expire_all()
    scope = db.scalar(select(ClientScope).where(ClientScope.name == "einvoice:view"))
    assert scope.seat_limit == 2 and scope.description_en == "View"
    rp_row = db.scalar(select(Client).where(Client.client_id == world["rp"].client_id))
    assert "einvoice:view" in rp_row.scopes  # the client may now ask for it
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:scope:added"))
    assert (
        _post(client, "/operator/clients/nope/scopes", page, name="a:b", **fields).status_code
        == 404
    )


def test_every_operator_route_is_404_for_an_org_admin_E04(app, client, db, world):
    """Walks the URL map: no operator page or action answers anyone but an operator."""
    login(client, "boss")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    values = {"org_id": world["active"].id, "user_id": world["ann"].id, "scope_id": 1, "item_id": 1}
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/operator")]
    assert len(rules) >= 14
    for rule in rules:
        path = rule.rule.replace("<client_id>", world["rp"].client_id).replace("<int:doc_id>", "1")
        for name, value in values.items():
            path = path.replace(f"<int:{name}>", str(value))
        method = "POST" if "POST" in rule.methods else "GET"
        data = {"csrf_token": token, "action": "suspend", "member_limit": "99"}
        assert client.open(path, method=method, data=data).status_code == 404, path
    denied = db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:console:denied")).all()
    assert len(denied) == len(rules)
    org = db.get(Organization, world["active"].id)
    assert (org.status, org.member_limit) == ("active", 10)


def test_disabling_an_account_ends_everything_and_enabling_restores_login_E08(
    app, client, db, world, smtp_sink
):
    rp, ann = world["rp"], world["ann"]
    member = app.test_client()
    code, verifier, _ = get_code(member, rp, scope="openid offline_access", username="ann")
    tokens = exchange(member, rp, code, verifier).get_json()
    page = _operator(client, world, "/operator/people?q=ann@example.org")
    assert "person-ann" in page
    url = f"/operator/people/{ann.id}/active"
    no_reason = _post(client, url, page, action="disable")
    assert query(no_reason.headers["Location"])["m"] == "reason_missing"
    done = _post(client, url, page, action="disable", reason="left")
    assert query(done.headers["Location"])["m"] == "disabled"
    assert smtp_sink.to("ann@example.org")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert member.get("/userinfo", headers=bearer).status_code == 401
    assert member.get("/account").status_code in (302, 303)  # the session is gone
    refreshed = member.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, rp.secret),
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert login(app.test_client(), "ann").status_code == 200  # the form again: refused
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:active"))
    assert (event.details["before"], event.details["after"]) == (True, False)
    assert event.details["reason"] == "left"

    _post(client, url, page, action="enable", reason="request")
    code, _v, _l = get_code(app.test_client(), rp, username="ann")
    assert code


def test_operator_cannot_disable_themself_and_can_lift_a_lockout(client, db, world):
    page = _operator(client, world, "/operator/people?q=op")
    own = _post(
        client, f"/operator/people/{world['op'].id}/active", page, action="disable", reason="other"
    )
    assert query(own.headers["Location"])["m"] == "self"
    ann = db.get(type(world["ann"]), world["ann"].id)
    ann.failed_logins, ann.locked_until = 5, 4_000_000_000
    db.commit()
    unlocked = _post(client, f"/operator/people/{ann.id}/unlock", page)
    assert query(unlocked.headers["Location"])["m"] == "unlocked"
    db.expire_all()
    ann = db.get(type(world["ann"]), world["ann"].id)
    assert (ann.failed_logins, ann.locked_until) == (0, None)
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:unlocked"))


def test_operator_creates_an_organisation_with_its_first_admin_A1(
    app, client, db, world, smtp_sink
):
    page = _operator(client, world)
    fields = {"kind": "company", "name_th": "บริษัท ใหม่ จำกัด", "name_en": "New", "member_limit": "5"}
    for identifier, admin, expected in [
        ("0105536092642", "boss", "invalid_identifier"),  # check digit wrong
        ("0105536092641", "boss", "identifier_taken"),
        ("0105548001239", "not an email", "admin_invalid"),
    ]:
        resp = _post(
            client, "/operator/orgs", page, identifier=identifier, first_admin=admin, **fields
        )
        assert query(resp.headers["Location"])["m"] == expected
    existing = _post(
        client, "/operator/orgs", page, identifier="0105548001239", first_admin="boss", **fields
    )
    assert query(existing.headers["Location"])["m"] == "created_added"
    org = db.scalar(select(Organization).where(Organization.identifier == "0105548001239"))
    assert (org.status, org.member_limit) == ("active", 5)
    boss_role = db.scalar(
        select(Membership.role).where(
            Membership.org_id == org.id, Membership.user_id == world["boss"].id
        )
    )
    assert boss_role == "admin"
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:org:created"))

    invited = _post(
        client,
        "/operator/orgs",
        page,
        identifier="MOC-02",
        first_admin="director@example.go.th",
        **{**fields, "kind": "agency"},
    )
    assert query(invited.headers["Location"])["m"] == "created_invited"
    link = _link(smtp_sink, "director@example.go.th")
    assert _join(app.test_client(), link, username="director").status_code == 303
    agency = db.scalar(select(Organization).where(Organization.identifier == "MOC-02"))
    role = db.scalar(select(Membership.role).where(Membership.org_id == agency.id))
    assert role == "admin"  # the invitation made the first admin


def test_mail_outage_while_inviting_a_first_admin_queues_the_invitation_issue13(
    app_factory, db, world
):
    """SMTP down (issue 13): the organisation and its invitation are created as usual,
    and the invitation mail waits in the outbox for ``idp jobs run`` instead of failing
    the request."""
    from idp import mail_outbox
    from idp.models import Invitation, OutboxMail

    dead_mail = app_factory(smtp_url="smtp://127.0.0.1:9").test_client()
    page = _operator(dead_mail, world)
    resp = _post(
        dead_mail,
        "/operator/orgs",
        page,
        kind="agency",
        identifier="MOC-09",
        name_th="กรม",
        member_limit="10",
        first_admin="head@example.go.th",
    )
    assert query(resp.headers["Location"])["m"] == "created_invited"
    assert db.scalar(select(Organization).where(Organization.identifier == "MOC-09")) is not None
    assert [i.email for i in db.scalars(select(Invitation))] == ["head@example.go.th"]
    (queued,) = db.scalars(select(OutboxMail).where(OutboxMail.template == "invitation"))
    # The address is stored only sealed and as a keyed hash (SECURITY.md X-06).
    settings = dead_mail.application.extensions["idp_settings"]
    digest = mail_outbox.recipient_digest(settings, "head@example.go.th")
    assert (queued.recipient_hash, queued.sent_at, queued.attempts) == (digest, None, 1)


def test_console_absolute_limit_12_hours_even_when_busy_S04(client, world):
    """Active every 10 minutes, the console still asks for a new second factor after 12
    hours (SECURITY.md section 7: consoles 15 min idle / 12 h absolute)."""
    with time_machine.travel(T0, tick=False) as traveller:
        _operator(client, world)
        for _ in range(71):  # 71 × 10 min = 11 h 50 min
            traveller.shift(600)
            assert client.get("/operator/orgs").status_code == 200
        traveller.shift(600 + 1)
        resp = client.get("/operator/orgs")
        assert resp.status_code == 303
        assert "/mfa/challenge" in resp.headers["Location"] or "/login" in resp.headers["Location"]
