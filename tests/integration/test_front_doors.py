"""One front door per rule (issue 8, section 2): the service functions that the consoles,
the account pages and the CLI share, called directly, as a future caller would."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.admin import services as admin_services
from idp.db import get_db
from idp.mfa import services as mfa
from idp.models import AuditEvent, Client, Grant, MfaFactor, User
from idp.oidc.acr import ACR_MFA, ACR_PASSWORD
from idp.orgs import services
from tests.factories import mail_text, make_client, make_user


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


@pytest.fixture(autouse=True)
def _mail_context(app_context):
    """These services are called as the CLI calls them: inside an app context."""


@pytest.fixture
def world(db):
    """Organisation A with two admins (ann, boss) and a member (cy); B with one admin
    (dee); an operator (op)."""
    ann, boss, cy = make_user(db, "ann"), make_user(db, "boss"), make_user(db, "cy")
    dee, op = make_user(db, "dee"), make_user(db, "op")
    op.is_operator = True
    org_a = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    org_b = services.create_org(db, kind="agency", identifier="MOC-01", name_th="B")
    services.add_member(db, org_a.id, boss, role="admin")
    services.add_member(db, org_a.id, ann, role="admin")
    services.add_member(db, org_a.id, cy)
    services.add_member(db, org_b.id, dee, role="admin")
    db.commit()
    return {"a": org_a, "b": org_b, "ann": ann, "boss": boss, "cy": cy, "dee": dee, "op": op}


def _email_of(app, user_id: int) -> str:
    """Read back through a new session: what was committed, not what is in memory."""
    with get_db(app).factory() as s:
        return s.get(User, user_id).email


# --- A7: an admin's email changed for them ------------------------------------------


def test_org_admin_changes_another_admins_email_commits_audits_and_tells_both_A7(
    app, db, settings, world, smtp_sink
):
    world["ann"].locale = "en"  # both mails in her language, the new address's too
    db.commit()
    user = services.change_admin_email(
        db,
        settings,
        world["a"].id,
        world["ann"].id,
        "ann.new@example.org",
        actor=world["boss"].id,
        as_operator=False,
    )
    assert user.email_verified is False  # unproven until the person proves it
    assert _email_of(app, world["ann"].id) == "ann.new@example.org"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:admin:email_changed"))
    assert event.actor_user_id == world["boss"].id and event.details["before"] == "ann@example.org"
    for address in ("ann@example.org", "ann.new@example.org"):
        (mail,) = smtp_sink.to(address)
        assert "an administrator of A" in mail_text(mail)


def test_operator_changes_an_only_admins_email_and_the_mail_says_operator_A7(
    app, db, settings, world, smtp_sink
):
    services.change_admin_email(
        db,
        settings,
        world["b"].id,
        world["dee"].id,
        "dee.new@example.org",
        actor=world["op"].id,
        as_operator=True,
    )
    assert _email_of(app, world["dee"].id) == "dee.new@example.org"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:email_changed"))
    assert event.actor_user_id == world["op"].id
    # dee chose no language: the deployment default, Thai
    assert "โดยผู้ดูแลระบบ" in mail_text(smtp_sink.to("dee@example.org")[0])


@pytest.mark.parametrize(
    ("org", "target", "actor", "as_operator"),
    [
        ("a", "boss", "boss", False),  # one's own email: the self-service change (M-11)
        ("a", "cy", "boss", False),  # a member is not an admin
        ("a", "ann", "cy", False),  # a member may not
        ("a", "ann", "dee", False),  # an admin of another organisation may not (E-01)
        ("a", "ann", "boss", True),  # claims to be an operator, is not
        ("a", "cy", "op", True),  # the operator: admins only
    ],
)
def test_a7_refusals_change_nothing_and_send_nothing(
    app, db, settings, world, smtp_sink, org, target, actor, as_operator
):
    """MISSION A7, SECURITY.md M-11 and E-01: refused with nothing changed or sent."""
    with pytest.raises(services.EmailChangeRefused) as refused:
        services.change_admin_email(
            db,
            settings,
            world[org].id,
            world[target].id,
            "new@example.org",
            actor=world[actor].id,
            as_operator=as_operator,
        )
    db.rollback()
    assert refused.value.code == "email_not_allowed"
    assert _email_of(app, world[target].id) == f"{target}@example.org"
    assert smtp_sink.messages == []
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag.like("%email_changed"))) is None


def test_operator_who_is_an_org_admin_cannot_change_their_own_email_there_M11(db, settings, world):
    services.add_member(db, world["b"].id, db.get(User, world["op"].id), role="admin")
    db.commit()
    with pytest.raises(services.EmailChangeRefused, match="email_not_allowed"):
        services.change_admin_email(
            db,
            settings,
            world["b"].id,
            world["op"].id,
            "op.new@example.org",
            actor=world["op"].id,
            as_operator=True,
        )


def test_a7_target_outside_the_organisation_is_a_lookup_error_E01(db, settings, world):
    with pytest.raises(LookupError):
        services.change_admin_email(
            db,
            settings,
            world["a"].id,
            world["dee"].id,
            "x@example.org",
            actor=world["op"].id,
            as_operator=True,
        )


# --- The strong-factor-required rule (SECURITY.md M-11) -----------------------------


def _grant_of_client_with_minimum(db, user, level):
    """The person uses (holds a grant of) a client whose minimum level is ``level``."""
    rp = make_client(db)
    db.scalar(select(Client).where(Client.client_id == rp.client_id)).min_acr = level
    db.add(Grant(user_id=user.id, client_id=rp.client_id, scope="openid", created_at=0))
    db.commit()


def _one_totp(db, settings, user):
    factor, _secret = mfa.start_totp(db, settings, user, "Phone")
    factor.status = "active"
    db.commit()
    return factor


@pytest.mark.parametrize("who", ["operator", "org_admin", "client_needs_mfa"])
def test_revoke_factor_itself_refuses_the_last_factor_when_one_is_required_M11(
    db, settings, world, who
):
    """The service decides, not its caller: no flag to pass, so none to forget."""
    holder = {"operator": "op", "org_admin": "dee", "client_needs_mfa": "cy"}[who]
    user = db.get(User, world[holder].id)
    if who == "client_needs_mfa":
        _grant_of_client_with_minimum(db, user, ACR_MFA)
    factor = _one_totp(db, settings, user)
    with pytest.raises(mfa.MfaError, match="last_factor"):
        mfa.revoke_factor(db, settings, user, factor.id, "lost_device")
    db.rollback()
    assert db.get(MfaFactor, factor.id).status == "active"


def test_revoke_factor_allows_the_last_factor_when_none_is_required_M11(db, settings, world):
    user = db.get(User, world["cy"].id)  # a member, a password-only client's grant
    _grant_of_client_with_minimum(db, user, ACR_PASSWORD)
    factor = _one_totp(db, settings, user)
    assert mfa.strong_factor_required(db, user.id) is False
    mfa.revoke_factor(db, settings, user, factor.id, "lost_device")
    assert db.get(MfaFactor, factor.id).status == "revoked"


def test_an_admin_may_revoke_a_factor_that_is_not_their_last_M11(db, settings, world):
    user = db.get(User, world["dee"].id)
    first, _second = _one_totp(db, settings, user), _one_totp(db, settings, user)
    mfa.revoke_factor(db, settings, user, first.id, "new_phone")
    assert db.get(MfaFactor, first.id).status == "revoked"


# --- One "admins of an organisation" query, one member and seat count ---------------


def test_admins_of_an_organisation_are_its_admins_only_A3(db, world):
    assert [u.username for u in services.org_admins(db, world["a"].id)] == ["ann", "boss"]
    assert [o.identifier for o in services.administered_orgs(db, world["boss"].id)] == [
        "0105536092641"
    ]
    assert services.administered_orgs(db, world["cy"].id) == []
    assert services.is_org_admin(db, world["a"].id, world["boss"].id)
    assert not services.is_org_admin(db, world["a"].id, world["cy"].id)
    assert not services.is_org_admin(db, world["b"].id, world["boss"].id)  # E-01


def test_status_mail_goes_to_the_admins_only(db, settings, world, smtp_sink):
    org = admin_services.set_status(db, world["a"].id, "suspend", world["op"].id)
    db.commit()
    admin_services.notify_status(db, settings, org)
    assert {m["To"] for m in smtp_sink.messages} == {"ann@example.org", "boss@example.org"}


def test_member_count_counts_this_organisations_members_A4(db, world):
    assert services.member_count(db, world["a"].id) == 3
    assert services.member_count(db, world["b"].id) == 1


def test_seat_count_is_per_organisation_and_the_grant_and_the_new_limit_use_it_A4(db, world):
    """The grant check, the operator's new limit and the console agree on one count."""
    rp = make_client(db)
    scope = services.add_scope(db, rp.client_id, "einvoice:submit", seat_limit=2)
    for org in ("a", "b"):
        services.allow_client(db, world[org].id, rp.client_id)
    services.grant_scope(db, world["b"].id, world["dee"].id, scope.id)  # another org's seat
    services.grant_scope(db, world["a"].id, world["ann"].id, scope.id)
    services.grant_scope(db, world["a"].id, world["boss"].id, scope.id)
    db.commit()
    assert services.seat_usage(db, world["a"].id, scope.id) == (2, 2)
    assert services.seat_usage(db, world["b"].id, scope.id) == (1, 2)
    with pytest.raises(services.rules.SeatLimitReached):
        services.grant_scope(db, world["a"].id, world["cy"].id, scope.id)
    db.rollback()
    common = {"min_acr": ACR_PASSWORD, "description_th": "", "description_en": ""}
    with pytest.raises(services.rules.LimitBelowUsage):
        admin_services.update_scope(db, scope.id, seat_limit=1, actor=world["op"].id, **common)
    db.rollback()
    admin_services.update_scope(db, scope.id, seat_limit=3, actor=world["op"].id, **common)
    services.grant_scope(db, world["a"].id, world["cy"].id, scope.id)
    assert services.seat_usage(db, world["a"].id, scope.id) == (3, 3)
