"""The org admin console: mfa, isolation, limits, roles (issue 4; SECURITY.md E-01,
E-03, E-04, E-07, S-05)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.enrollment import pii
from idp.mfa import services as mfa
from idp.models import AuditEvent, Entitlement, Membership, User
from idp.orgs import services
from tests.factories import confirm, csrf_token, login, mail_text, make_client, make_user, query
from tests.otp import oathtool_code


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    boss, ann, ben = make_user(db, "boss"), make_user(db, "ann"), make_user(db, "ben")
    factor, secret = mfa.start_totp(db, settings, boss, "Phone")
    factor.status = "active"
    rp = make_client(db, name="e-Invoice")
    scope = services.add_scope(db, rp.client_id, "einvoice:submit", seat_limit=1)
    org_a = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    org_b = services.create_org(db, kind="agency", identifier="MOC-01", name_th="B")
    for org in (org_a, org_b):
        services.allow_client(db, org.id, rp.client_id)
    services.add_member(db, org_a.id, boss, role="admin")
    services.add_member(db, org_a.id, ann)
    services.add_member(db, org_b.id, ben, role="admin")
    db.commit()
    return {
        "a": org_a,
        "b": org_b,
        "scope": scope,
        "secret": secret,
        "ann": ann,
        "ben": ben,
        "boss": boss,
    }


def _console(client, world):
    """Sign in as boss and pass the console's step-up with a TOTP code."""
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "boss")
    resp = client.get(f"/orgs/{world['a'].id}/admin")
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
    assert done.headers["Location"] == f"/orgs/{world['a'].id}/admin"
    page = client.get(done.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_console_requires_mfa_and_shows_members_and_seats(client, world):
    page = _console(client, world)
    assert "member-ann" in page and "0 of 1 used" in page.replace("&nbsp;", " ")


def test_other_organisation_is_404_and_audited_E01(client, db, world):
    _console(client, world)
    page = client.get(f"/orgs/{world['a'].id}/admin").get_data(as_text=True)
    token = csrf_token(page)
    b = world["b"].id
    assert client.get(f"/orgs/{b}/admin").status_code == 404
    resp = client.post(
        f"/orgs/{b}/admin/members/{world['ben'].id}/remove", data={"csrf_token": token}
    )
    assert resp.status_code == 404
    assert db.scalar(select(Membership).where(Membership.user_id == world["ben"].id))
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:console:denied"))


def test_member_of_other_org_cannot_be_touched_through_own_org_E01(client, db, world):
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/members/{world['ben'].id}/role",
        data={"role": "admin", "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 404


def test_seat_limit_message_and_grant_E07(client, db, world):
    page = _console(client, world)
    boss_id, ann_id, sid = world["boss"].id, world["ann"].id, world["scope"].id
    url = f"/orgs/{world['a'].id}/admin/members/{{}}/scopes/{sid}"
    ok = client.post(url.format(ann_id), data={"action": "grant", "csrf_token": csrf_token(page)})
    assert query(ok.headers["Location"])["m"] == "saved"
    full = client.post(
        url.format(boss_id), data={"action": "grant", "csrf_token": csrf_token(page)}
    )
    assert query(full.headers["Location"])["m"] == "seat_limit_reached"
    assert len(list(db.scalars(select(Entitlement)))) == 1
    shown = client.get(full.headers["Location"]).get_data(as_text=True)
    assert "All seats" in shown


def test_role_values_other_than_member_or_admin_are_ignored_E04(client, db, world):
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/members/{world['ann'].id}/role",
        data={"role": "superadmin", "org_id": world["b"].id, "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 303
    m = db.scalar(select(Membership).where(Membership.user_id == world["ann"].id))
    assert m.role == "member" and m.org_id == world["a"].id


def test_last_admin_cannot_step_down_A3(client, db, world):
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/members/{world['boss'].id}/role",
        data={"role": "member", "csrf_token": csrf_token(page)},
    )
    assert query(resp.headers["Location"])["m"] == "last_admin"


def test_remove_member(client, db, world):
    """Adding is by invitation: tests/integration/test_org_invitations.py (E-02)."""
    carl = make_user(db, "carl")
    services.add_member(db, world["a"].id, carl)
    db.commit()
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/members/{carl.id}/remove",
        data={"csrf_token": csrf_token(page)},
    )
    resp = confirm(client, resp)
    assert query(resp.headers["Location"])["m"] == "member_removed"
    assert db.scalar(select(Membership).where(Membership.user_id == carl.id)) is None


def test_console_posts_need_csrf_S05(client, db, world):
    _console(client, world)
    resp = client.post(f"/orgs/{world['a'].id}/admin/members", data={"who": "ben"})
    assert resp.status_code in (303, 400)
    assert (
        db.scalar(
            select(Membership).where(
                Membership.org_id == world["a"].id, Membership.user_id == world["ben"].id
            )
        )
        is None
    )


def test_non_admin_member_gets_404(client, world):
    login(client, "ann")
    assert client.get(f"/orgs/{world['a'].id}/admin").status_code == 404


def test_account_page_links_to_console(client, world):
    login(client, "boss")
    page = client.get("/account").get_data(as_text=True)
    assert re.search(rf'href="/orgs/{world["a"].id}/admin"', page)


def test_audit_trail_lists_and_exports_own_org_only(client, db, world):
    page = _console(client, world)
    client.post(
        f"/orgs/{world['a'].id}/admin/members/{world['ann'].id}/scopes/{world['scope'].id}",
        data={"action": "grant", "csrf_token": csrf_token(page)},
    )
    services.grant_scope(db, world["b"].id, world["ben"].id, world["scope"].id)  # other org
    db.commit()
    trail = client.get(f"/orgs/{world['a'].id}/admin/audit").get_data(as_text=True)
    assert "org:scope:granted" in trail and "ann" in trail
    csv_resp = client.get(f"/orgs/{world['a'].id}/admin/audit.csv?tag=org:scope:granted")
    assert csv_resp.headers["Content-Disposition"].startswith("attachment;")
    body = csv_resp.data.decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0] == (
        'when_utc,"Date and time (Asia/Bangkok, UTC+07:00)",action,action_label,'
        "organisation,by,whom,ip,details,change"
    )
    assert len(lines) == 2 and "ann" in lines[1] and "boss" in lines[1] and "ben" not in body
    assert client.get(f"/orgs/{world['b'].id}/admin/audit.csv").status_code == 404
    by_whom = client.get(f"/orgs/{world['a'].id}/admin/audit?subject=ann").get_data(as_text=True)
    assert "org:scope:granted</code>" in by_whom and "held" in by_whom  # before → after
    later = client.get(f"/orgs/{world['a'].id}/admin/audit?since=2999-12-31")
    assert "org:scope:granted</code>" not in later.get_data(as_text=True)


def test_admin_changes_another_admins_email_only_with_two_admins_A7(client, db, world, smtp_sink):
    page = _console(client, world)
    ann = world["ann"].id
    url = f"/orgs/{world['a'].id}/admin/members/{ann}/email"
    refused = client.post(url, data={"email": "ann2@example.org", "csrf_token": csrf_token(page)})
    assert query(refused.headers["Location"])["m"] == "email_not_allowed"  # ann is no admin
    services.set_role(db, world["a"].id, ann, "admin")
    db.commit()
    taken = client.post(url, data={"email": "ben@example.org", "csrf_token": csrf_token(page)})
    assert query(taken.headers["Location"])["m"] == "email_taken"
    done = client.post(url, data={"email": "ann2@example.org", "csrf_token": csrf_token(page)})
    assert query(done.headers["Location"])["m"] == "email_changed"
    user = db.scalar(select(User).where(User.id == ann))
    db.refresh(user)
    assert user.email == "ann2@example.org" and user.email_verified is False
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:admin:email_changed"))
    assert event.details["before"] == "ann@example.org"


def _invite(client, world, email="newbie@example.org"):
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/invite", data={"email": email, "csrf_token": csrf_token(page)}
    )
    return query(resp.headers["Location"])["m"]


def _link(smtp_sink, email):
    body = mail_text(smtp_sink.to(email)[-1])
    return re.search(r"http://localhost(/invite/\S+)", body).group(1)


def _join(client, link, **fields):
    page = client.get(link).get_data(as_text=True)
    data = {
        "username": "newbie",
        "name": "New Person",
        "password": "a long passphrase here",
        "id_kind": "national",
        "national_id": "1101700230708",
        "csrf_token": csrf_token(page),
    }
    data.update(fields)
    return client.post(link, data=data)


def test_invitation_by_email_creates_member(app, client, db, world, smtp_sink):
    assert _invite(client, world) == "invited"
    link = _link(smtp_sink, "newbie@example.org")
    fresh = app.test_client()
    bad = _join(fresh, link, national_id="1101700230706")  # check digit wrong
    assert bad.status_code == 400
    assert _join(fresh, link).status_code == 303
    user = db.scalar(select(User).where(User.username_key == "newbie"))
    # Sealed at rest (SECURITY.md X-06): masked, found by keyed hash, decrypts back.
    assert user.id_doc_kind == "national_id" and user.email_verified
    assert user.id_doc_masked == "x-xxxx-xxxxx-xx-8"
    assert "1101700230708" not in user.id_doc_cipher
    assert pii.reveal(app.extensions["idp_settings"], user.id_doc_cipher) == "1101700230708"
    settings = app.extensions["idp_settings"]
    assert user.id_doc_hash == pii.lookup_hash(settings, "national_id", "1101700230708")
    assert (
        db.scalar(select(Membership).where(Membership.user_id == user.id)).org_id == world["a"].id
    )
    assert fresh.get(link).status_code == 404  # single use


def test_foreign_member_joins_with_passport_A6(app, client, db, world, smtp_sink):
    _invite(client, world, "kenji@example.jp")
    link = _link(smtp_sink, "kenji@example.jp")
    resp = _join(
        app.test_client(),
        link,
        username="kenji",
        id_kind="passport",
        national_id="",
        passport_number="tk1234567",
        nationality="jp",
    )
    assert resp.status_code == 303
    user = db.scalar(select(User).where(User.username_key == "kenji"))
    assert (user.id_doc_kind, user.nationality) == ("passport", "JP")
    assert pii.reveal(app.extensions["idp_settings"], user.id_doc_cipher) == "TK1234567"


def test_invitation_expires_after_72_hours(app, client, db, world, smtp_sink):
    import time_machine

    with time_machine.travel(1_800_000_000, tick=False) as traveller:
        _invite(client, world)
        link = _link(smtp_sink, "newbie@example.org")
        traveller.shift(72 * 3600 + 1)
        assert app.test_client().get(link).status_code == 404


def test_org_edits_its_addresses_A9(client, db, world):
    _console(client, world)
    url = f"/orgs/{world['a'].id}/admin/profile"
    page = client.get(url).get_data(as_text=True)
    bad = client.post(url, data={"postcode": "1050", "csrf_token": csrf_token(page)})
    assert bad.status_code == 400
    ok = client.post(
        url,
        data={
            "address": "99 ถนนสีลม",
            "province": "กรุงเทพมหานคร",
            "postcode": "10500",
            "branches": "สาขา 1\n\nสาขา 2",
            "csrf_token": csrf_token(page),
        },
    )
    assert query(ok.headers["Location"])["m"] == "saved"
    db.refresh(world["a"])
    assert world["a"].head_office["postcode"] == "10500"
    assert world["a"].branches == ["สาขา 1", "สาขา 2"]
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:profile:changed"))
    assert event.details["after"]["head_office"]["province"] == "กรุงเทพมหานคร"
    assert client.get(f"/orgs/{world['b'].id}/admin/profile").status_code == 404


def test_a_refused_profile_lists_every_bad_field_and_keeps_what_was_typed_WCAG_3_3_1(
    client, db, world
):
    """Bad input loses nothing: the page comes back with the typed values and one linked
    error per bad field; the stored profile is unchanged."""
    _console(client, world)
    url = f"/orgs/{world['a'].id}/admin/profile"
    page = client.get(url + "?lang=en").get_data(as_text=True)
    typed = {
        "address": "99 ถนนสีลม",
        "postcode": "1050",
        "contact_email": "not-an-address",
        "website": "ftp://example.org",
        "branches": "สาขา 1",
    }
    resp = client.post(url, data={**typed, "csrf_token": csrf_token(page)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    start = html.index('id="profile-error"')
    summary = html[start : html.index("</div>", start)]
    assert re.findall(r'href="#([^"]+)"', summary) == ["postcode", "contact_email", "website"]
    assert 'value="99 ถนนสีลม"' in html and ">สาขา 1</textarea>" in html
    db.refresh(world["a"])
    assert world["a"].head_office.get("address") is None


def test_every_console_route_with_another_organisations_id_is_404_and_audited_E01(
    app, client, db, world
):
    """Walks the URL map, so a console route added later is covered too."""
    page = _console(client, world)
    token = csrf_token(page)
    b, ben, scope = world["b"].id, world["ben"].id, world["scope"].id
    values = {"org_id": b, "user_id": ben, "scope_id": scope, "doc_id": 1, "invitation_id": 1}
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/orgs/<int:org_id>/admin")]
    assert len(rules) >= 12
    before = len(db.scalars(select(AuditEvent)).all())
    for rule in rules:
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<int:{name}>", str(value))
        method = "POST" if "POST" in rule.methods else "GET"
        resp = client.open(path, method=method, data={"csrf_token": token, "role": "admin"})
        assert resp.status_code == 404, (method, path)
    denied = db.scalars(select(AuditEvent).where(AuditEvent.tag == "org:console:denied")).all()
    assert len(denied) == len(rules)
    assert len(db.scalars(select(AuditEvent)).all()) == before + len(rules)  # nothing else
    assert db.scalar(select(Membership).where(Membership.user_id == ben)).role == "admin"


def test_audit_page_shows_the_latest_1000_and_csv_exports_all(client, db, world):
    from idp.audit import AuditTag, record

    for i in range(1001):
        record(db, AuditTag.ORG_PROFILE_CHANGED, actor=None, subject=None, org=world["a"].id, n=i)
    db.commit()
    _console(client, world)
    page = client.get(f"/orgs/{world['a'].id}/admin/audit").get_data(as_text=True)
    assert 'id="audit-truncated"' in page and page.count("org:profile:changed</code>") == 1000
    body = client.get(f"/orgs/{world['a'].id}/admin/audit.csv").data.decode("utf-8-sig")
    assert sum("org:profile:changed" in line for line in body.splitlines()) == 1001


def test_open_invitation_is_listed_and_can_be_withdrawn(app, client, db, world, smtp_sink):
    assert _invite(client, world) == "invited"
    link = _link(smtp_sink, "newbie@example.org")
    page = client.get(f"/orgs/{world['a'].id}/admin").get_data(as_text=True)
    assert "newbie@example.org" in page and 'id="open-invitations"' in page
    from idp.models import Invitation

    inv = db.scalar(select(Invitation))
    url = f"/orgs/{world['a'].id}/admin/invitations/{inv.id}/withdraw"
    resp = client.post(url, data={"csrf_token": csrf_token(page)})
    assert query(resp.headers["Location"])["m"] == "invitation_withdrawn"
    assert app.test_client().get(link).status_code == 404  # the link is dead
    assert client.post(url, data={"csrf_token": csrf_token(page)}).status_code == 404  # once
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:invitation:withdrawn"))
    assert event.details["email"] == "newbie@example.org"
    assert "newbie@example.org" not in client.get(f"/orgs/{world['a'].id}/admin").get_data(
        as_text=True
    )


def test_org_admin_cannot_make_anyone_operator_E04(client, db, world):
    """No web form sets ``is_operator``: a valid, stepped-up console POST that carries it
    changes the role it names and nothing else."""
    page = _console(client, world)
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/members/{world['ann'].id}/role",
        data={"role": "admin", "is_operator": "true", "csrf_token": csrf_token(page)},
    )
    assert query(resp.headers["Location"])["m"] == "role_changed"  # the request got through
    db.expire_all()
    assert not db.get(User, world["ann"].id).is_operator
    assert not db.get(User, world["boss"].id).is_operator
