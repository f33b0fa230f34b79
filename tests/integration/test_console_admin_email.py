"""MISSION A7 through both consoles, which now share one service
(idp.orgs.services.change_admin_email), and the operator console's URL map after its
split into page modules (issue 8, sections 2 and 3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.mfa import services as mfa
from idp.models import AuditEvent, User
from idp.orgs import services
from tests.factories import csrf_token, make_user, query
from tests.integration.test_operator_console import _operator
from tests.integration.test_org_console import _console


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def people(app, db):
    """Organisation A with two admins (boss, with a soft token, and ann) and a member
    (cy); an operator (op, with a soft token)."""
    settings = app.extensions["idp_settings"]
    boss, ann, cy, op = (make_user(db, n) for n in ("boss", "ann", "cy", "op"))
    op.is_operator = True
    secrets = {}
    for user in (boss, op):
        factor, secrets[user.username] = mfa.start_totp(db, settings, user, "Phone")
        factor.status = "active"
    org = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    services.add_member(db, org.id, boss, role="admin")
    services.add_member(db, org.id, ann, role="admin")
    services.add_member(db, org.id, cy)
    db.commit()
    ids = {u.username: u.id for u in (boss, ann, cy, op)}
    return {"org": org, "ids": ids, "secrets": secrets}


def _email(db, user_id: int) -> str:
    db.expire_all()
    return db.get(User, user_id).email


def test_admin_cannot_change_their_own_email_through_the_console_A7_M11(
    client, db, people, smtp_sink
):
    """The form is offered for other admins only; a forged POST for oneself is refused
    too, or an admin could skip the code sent to a new address of their own."""
    page = _console(client, {"a": people["org"], "secret": people["secrets"]["boss"]})
    org_id, boss = people["org"].id, people["ids"]["boss"]
    url = f"/orgs/{org_id}/admin/members/{boss}/email"
    resp = client.post(url, data={"email": "boss2@example.org", "csrf_token": csrf_token(page)})
    assert query(resp.headers["Location"])["m"] == "email_not_allowed"
    assert _email(db, boss) == "boss@example.org"
    assert smtp_sink.to("boss2@example.org") == []


def test_admin_changes_the_other_admins_email_through_the_console_A7(client, db, people, smtp_sink):
    page = _console(client, {"a": people["org"], "secret": people["secrets"]["boss"]})
    ann = people["ids"]["ann"]
    url = f"/orgs/{people['org'].id}/admin/members/{ann}/email"
    resp = client.post(url, data={"email": "ann2@example.org", "csrf_token": csrf_token(page)})
    assert query(resp.headers["Location"])["m"] == "email_changed"
    assert _email(db, ann) == "ann2@example.org"
    assert smtp_sink.to("ann@example.org") and smtp_sink.to("ann2@example.org")


def test_operator_changes_admins_emails_only_A7(client, db, people, smtp_sink):
    """The operator's page lists the admins' emails; a forged POST for a plain member
    is refused with the operator's own wording."""
    page = _operator(client, {"secret": people["secrets"]["op"]})
    base = f"/operator/orgs/{people['org'].id}/members"
    token = csrf_token(page)
    refused = client.post(
        f"{base}/{people['ids']['cy']}/email",
        data={"email": "cy2@example.org", "csrf_token": token},
    )
    assert query(refused.headers["Location"])["m"] == "email_not_allowed"
    shown = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "email can be changed here, and not your own" in shown
    assert _email(db, people["ids"]["cy"]) == "cy@example.org"
    done = client.post(
        f"{base}/{people['ids']['ann']}/email",
        data={"email": "ann3@example.org", "csrf_token": token},
    )
    assert query(done.headers["Location"])["m"] == "email_changed"
    assert _email(db, people["ids"]["ann"]) == "ann3@example.org"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "op:user:email_changed"))
    assert event.subject_user_id == people["ids"]["ann"]


def test_operator_console_keeps_every_endpoint_after_the_split(app):
    """Issue 8 section 3: the page modules register the same endpoints as before."""
    endpoints = {
        r.endpoint.removeprefix("admin.")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/operator")
    }
    assert endpoints == {
        "home",
        "orgs",
        "create_org",
        "org",
        "set_status",
        "set_limit",
        "set_clients",
        "document",
        "review_document",
        "change_email",
        "clients",
        "update_scope",
        "declare_scope",
        "audit",
        "audit_csv",
        "people",
        "set_active",
        "unlock",
        # issue 10: the review queue
        "reviews_queue",
        "review_item",
        "decide_item",
        "review_document_file",
        "reveal_document",
        # issue 11: reset a person's second factors
        "reset_factors",
        "end_person_sessions",
        # issue 11: closing an account (idp/admin/closure_pages.py)
        "close_account",
        # issue 11: operator actions on a person
        "send_reset_code",
        # issue 11
        "require_password_change",
    }
