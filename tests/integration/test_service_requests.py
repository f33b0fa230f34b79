"""Service requests (issue 11; MISSION A8, B4, B6): filed from /account with the B6
details and an optional document (SECURITY.md R-02, R-03), reviewed in the operator
review queue, carried out by the system on approval (factors reset and sessions ended,
email changed only after the new address's code, the admin right moved or the new
holder invited), the result mailed (real SMTP sink); the operator's "reset second
factors" needs a reason and is audited. Another person's request is a 404 (R-08)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.models import (
    ApplicantDocument,
    AuditEvent,
    Invitation,
    Membership,
    MfaFactor,
    RecoveryCode,
    ReviewItem,
    ServiceRequest,
    User,
)
from idp.oidc.acr import ACR_MFA
from idp.orgs import services as org_services
from tests.factories import (
    csrf_token,
    exchange,
    get_code,
    login,
    mail_text,
    make_client,
    make_user,
)
from tests.integration.test_mfa import Flow, _client_row, enrol_totp
from tests.integration.test_operator_console import _operator

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


@pytest.fixture
def world(app, db, settings):
    from idp.mfa import services as mfa

    op = make_user(db, "op")
    op.is_operator = True
    factor, secret = mfa.start_totp(db, settings, op, "Phone")
    factor.status = "active"
    alice = make_user(db, "alice", name="Alice Person")
    alice.given_name, alice.family_name = "Alice", "Person"
    bob = make_user(db, "bob")
    acme = org_services.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท เอ", name_en="Acme"
    )
    db.commit()
    return {"op": op, "secret": secret, "alice": alice, "bob": bob, "acme": acme}


@pytest.fixture
def person(app, world):
    """Alice's own browser (the operator uses ``client``)."""
    c = app.test_client()
    c.set_cookie("idp_lang", "en", domain="localhost")
    assert login(c, "alice").status_code == 303
    return c


DETAILS = {
    "given_name": "Alice",
    "family_name": "Person",
    "username": "alice",
    "email": "alice@example.org",
    "phone": "081 234 5678",
    "unit_code": "T0500",
    "division": "Finance",
    "department": "Comptroller General",
    "ministry": "Finance",
    "explanation": "My phone was stolen on the train.",
}


def file_request(c, kind, document=None, **fields):
    page = c.get(f"/account/requests/new?kind={kind}").get_data(as_text=True)
    data = {**DETAILS, **fields, "csrf_token": csrf_token(page)}
    if document is not None:
        data["document"] = document
    return c.post(
        f"/account/requests/new?kind={kind}", data=data, content_type="multipart/form-data"
    )


def only_request(db, kind) -> ServiceRequest:
    db.expire_all()
    return db.scalars(select(ServiceRequest).where(ServiceRequest.kind == kind)).one()


def decide(client, world, item_id, decision, reason=""):
    path = f"/operator/reviews/{item_id}"
    resp = client.get(path)
    page = (
        resp.get_data(as_text=True) if resp.status_code == 200 else _operator(client, world, path)
    )
    return client.post(
        f"/operator/reviews/{item_id}/decide",
        data={"decision": decision, "reason": reason, "csrf_token": csrf_token(page)},
    )


def tags(db, tag):
    db.expire_all()
    return db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)).all()


# --- Filing ----------------------------------------------------------------------


def test_form_is_prefilled_and_filing_opens_a_review_item_B6(person, client, db, world):
    page = person.get("/account/requests/new?kind=lost_device").get_data(as_text=True)
    assert 'value="alice"' in page and 'value="alice@example.org"' in page
    resp = file_request(person, "lost_device", document=(__import__("io").BytesIO(PDF), "c.pdf"))
    assert resp.status_code == 303
    req = only_request(db, "lost_device")
    assert req.status == "open" and req.details["unit_code"] == "T0500"
    item = db.get(ReviewItem, req.review_item_id)
    assert item.kind == "service_request" and item.user_id == world["alice"].id
    doc = db.scalars(select(ApplicantDocument).where(ApplicantDocument.review_item_id == item.id))
    assert doc.one().content == PDF
    [event] = tags(db, "account:service_request:submitted")
    assert event.details["request"] == req.id and event.details["kind"] == "lost_device"
    # the person sees it and its state on /account
    home = person.get("/account").get_data(as_text=True)
    assert f'id="request-{req.id}"' in home and "waiting for an operator" in home
    # the operator sees it in the queue, with its kind, details and the document
    queue = _operator(client, world, "/operator/reviews?kind=service_request")
    assert f'id="item-{item.id}"' in queue and "Service request" in queue
    shown = client.get(f"/operator/reviews/{item.id}").get_data(as_text=True)
    assert "Lost or replaced phone or security key" in shown
    assert "My phone was stolen on the train." in shown and "Comptroller General" in shown
    assert f"/operator/reviews/{item.id}/documents/" in shown
    assert 'id="decision-more-info"' not in shown  # approve or reject only


def test_validation_errors_are_translated_and_fields_limited(app, db, world):
    c = app.test_client()
    c.set_cookie("idp_lang", "th", domain="localhost")
    login(c, "alice")
    resp = file_request(c, "lost_device", explanation="", unit_code="X" * 33, phone="call me")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "กรุณากรอกข้อมูลช่องนี้" in page and "ข้อมูลยาวเกินไป" in page  # required, too long: in Thai
    assert "Fill in this field." not in page
    assert db.scalars(select(ServiceRequest)).all() == []
    too_long = file_request(c, "lost_device", explanation="x" * 2001)
    assert too_long.status_code == 400
    assert db.scalars(select(ServiceRequest)).all() == []


def test_a_disguised_file_is_refused_and_nothing_is_filed_R02(person, db, world):
    import io

    html = b"<html><script>alert(1)</script></html>"
    resp = file_request(person, "lost_device", document=(io.BytesIO(html), "proof.pdf"))
    assert resp.status_code == 400
    assert "Only PDF, PNG and JPEG files are accepted." in resp.get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(ServiceRequest)).all() == []
    assert db.scalars(select(ReviewItem)).all() == []


def test_one_open_request_per_kind(person, db, world):
    assert file_request(person, "lost_device").status_code == 303
    again = file_request(person, "lost_device")
    assert again.status_code == 409
    assert "You already have an open request of this kind" in again.get_data(as_text=True)
    assert file_request(person, "locked_authenticator").status_code == 303
    db.expire_all()
    reqs = db.scalars(select(ServiceRequest)).all()
    assert len(reqs) == 2 and len({r.review_item_id for r in reqs}) == 2  # an item each


def test_another_persons_request_is_not_found_R08(app, person, db, world):
    file_request(person, "lost_device")
    req = only_request(db, "lost_device")
    assert person.get(f"/account/requests/{req.id}").status_code == 200
    bob = app.test_client()
    login(bob, "bob")
    assert bob.get(f"/account/requests/{req.id}").status_code == 404
    page = bob.get("/account").get_data(as_text=True)
    assert (
        bob.post(
            f"/account/requests/{req.id}/email-code",
            data={"step": "resend", "csrf_token": csrf_token(page)},
        ).status_code
        == 404
    )
    assert f'id="request-{req.id}"' not in page


# --- Deciding --------------------------------------------------------------------


def test_approving_a_lost_device_resets_factors_and_ends_sessions_A8(
    person, client, db, settings, smtp_sink, world
):
    from idp.mfa import services as mfa

    enrol_totp(db, settings, "alice")
    mfa.regenerate_recovery_codes(db, settings, db.get(User, world["alice"].id))
    db.commit()
    file_request(person, "lost_device")
    req = only_request(db, "lost_device")
    resp = decide(client, world, req.review_item_id, "approve")
    assert resp.status_code == 303
    db.expire_all()
    alice = world["alice"].id
    assert (
        db.scalars(
            select(MfaFactor).where(MfaFactor.user_id == alice, MfaFactor.status == "active")
        ).all()
        == []
    )
    assert (
        db.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == alice, RecoveryCode.used_at.is_(None)
            )
        ).all()
        == []
    )
    req = only_request(db, "lost_device")
    assert (req.status, req.result) == ("approved", "factors_reset")
    [done] = tags(db, "account:service_request:carried_out")
    assert done.actor_user_id == world["op"].id and done.details["result"] == "factors_reset"
    # S-03: her session ended at once
    assert person.get("/account").status_code == 302
    # the result, mailed
    mail = smtp_sink.to("alice@example.org")[-1]
    assert "approved" in mail["Subject"] and "second factors were removed" in mail_text(mail)
    # at the next sign-in that needs a second factor she enrols one again
    rp = make_client(db)
    _client_row(db, rp).min_acr = ACR_MFA
    db.commit()
    fresh = client.application.test_client()
    assert Flow(fresh, rp).login().at("/mfa/enrol")


def test_rejecting_needs_a_reason_which_is_mailed_and_decided_once(
    person, client, db, settings, smtp_sink, world
):
    enrol_totp(db, settings, "alice")
    file_request(person, "lost_device")
    req = only_request(db, "lost_device")
    empty = decide(client, world, req.review_item_id, "reject", "")
    assert empty.status_code == 400
    assert only_request(db, "lost_device").status == "open"
    resp = decide(client, world, req.review_item_id, "reject", "Please call us first.")
    assert resp.status_code == 303
    req = only_request(db, "lost_device")
    assert req.status == "rejected" and req.result == ""
    mail = smtp_sink.to("alice@example.org")[-1]
    assert "not approved" in mail["Subject"] and "Please call us first." in mail_text(mail)
    # nothing was done: her factor stays
    db.expire_all()
    assert db.scalars(select(MfaFactor).where(MfaFactor.status == "active")).all()
    page = person.get(f"/account/requests/{req.id}").get_data(as_text=True)
    assert "rejected" in page and "Please call us first." in page
    again = decide(client, world, req.review_item_id, "approve")
    assert again.status_code == 409
    assert only_request(db, "lost_device").status == "rejected"


def test_a_question_is_refused_for_a_service_request(person, client, db, world):
    file_request(person, "locked_authenticator")
    req = only_request(db, "locked_authenticator")
    resp = decide(client, world, req.review_item_id, "more_info", "Which phone?")
    assert resp.status_code == 400
    assert "A service request is approved or rejected" in resp.get_data(as_text=True)
    assert db.get(ReviewItem, req.review_item_id).status == "open"


def _code(smtp_sink, address):
    """The code of the latest code mail to ``address`` (the result mail goes there too)."""
    texts = [mail_text(m) for m in smtp_sink.to(address)]
    return [re.search(r"\b(\d{6})\b", t).group(1) for t in texts if re.search(r"\b\d{6}\b", t)][-1]


def test_email_changes_only_after_the_new_address_code_M11(person, client, db, smtp_sink, world):
    file_request(person, "email_change", new_email="alice.new@example.org")
    req = only_request(db, "email_change")
    decide(client, world, req.review_item_id, "approve")
    db.expire_all()
    assert db.get(User, world["alice"].id).email == "alice@example.org"  # not yet
    assert only_request(db, "email_change").result == "email_code_sent"
    code = _code(smtp_sink, "alice.new@example.org")
    login(person, "alice")
    page = person.get(f"/account/requests/{req.id}").get_data(as_text=True)
    wrong = "000000" if code != "000000" else "111111"
    bad = person.post(
        f"/account/requests/{req.id}/email-code",
        data={"step": "confirm", "code": wrong, "csrf_token": csrf_token(page)},
    )
    assert bad.status_code == 400 and "That code is not right" in bad.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, world["alice"].id).email == "alice@example.org"
    ok = person.post(
        f"/account/requests/{req.id}/email-code",
        data={"step": "confirm", "code": code, "csrf_token": csrf_token(page)},
    )
    assert ok.status_code == 303
    db.expire_all()
    alice = db.get(User, world["alice"].id)
    assert alice.email == "alice.new@example.org" and alice.email_verified
    assert only_request(db, "email_change").result == "email_changed"
    [changed] = tags(db, "account:email:changed")
    assert changed.details["via"] == "service_request"
    reuse = person.post(
        f"/account/requests/{req.id}/email-code",
        data={"step": "confirm", "code": code, "csrf_token": csrf_token(page)},
    )
    assert reuse.status_code == 400  # single use: the request no longer waits for a code


def test_holder_change_by_an_admin_invites_the_new_holder_and_ends_her_right_A7(
    person, client, db, smtp_sink, world
):
    org = world["acme"]
    org_services.add_member(db, org.id, db.get(User, world["alice"].id), role="admin")
    db.commit()
    refused = file_request(person, "holder_change", org_id=str(org.id))
    assert refused.status_code == 400  # an admin handing over names the new holder
    assert "give the new holder" in refused.get_data(as_text=True)
    file_request(person, "holder_change", org_id=str(org.id), new_holder_email="nid@example.org")
    req = only_request(db, "holder_change")
    assert db.get(ReviewItem, req.review_item_id).org_id == org.id
    assert decide(client, world, req.review_item_id, "approve").status_code == 303
    db.expire_all()
    inv = db.scalars(select(Invitation).where(Invitation.org_id == org.id)).one()
    assert inv.email == "nid@example.org" and inv.role == "admin"
    assert "/invite/" in mail_text(smtp_sink.to("nid@example.org")[-1])
    mine = db.scalars(select(Membership).where(Membership.user_id == world["alice"].id)).one()
    assert mine.role == "member"
    assert only_request(db, "holder_change").result == "holder_invited"


def test_holder_change_by_a_member_makes_them_the_admin(person, client, db, world):
    org = world["acme"]
    org_services.add_member(db, org.id, db.get(User, world["bob"].id), role="admin")
    org_services.add_member(db, org.id, db.get(User, world["alice"].id))
    db.commit()
    file_request(person, "holder_change", org_id=str(org.id))
    req = only_request(db, "holder_change")
    decide(client, world, req.review_item_id, "approve")
    db.expire_all()
    mine = db.scalars(select(Membership).where(Membership.user_id == world["alice"].id)).one()
    assert mine.role == "admin"
    assert only_request(db, "holder_change").result == "holder_promoted"


def test_holder_change_only_for_ones_own_organisation(person, db, world):
    resp = file_request(person, "holder_change", org_id=str(world["acme"].id))
    assert resp.status_code == 400 and "Choose one of your organisations." in resp.get_data(
        as_text=True
    )


# --- The operator's reset ----------------------------------------------------------


def test_operator_reset_needs_a_reason_is_audited_and_mailed_A8(
    app, person, client, db, settings, smtp_sink, world
):
    """Also: the person's refresh tokens end with the factors, so a lost phone's
    applications cannot go on refreshing at the old assurance."""
    rp = make_client(db)
    phone = app.test_client()
    code, verifier, _ = get_code(phone, rp, scope="openid offline_access")
    refresh_token = exchange(phone, rp, code, verifier).get_json()["refresh_token"]
    enrol_totp(db, settings, "alice")
    page = _operator(client, world, "/operator/people?q=alice")
    assert 'id="reset-factors-alice"' in page
    path = f"/operator/people/{world['alice'].id}/factors/reset?q=alice"
    none = client.post(path, data={"reason": "  ", "csrf_token": csrf_token(page)})
    assert "Enter a reason" in client.get(none.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(MfaFactor).where(MfaFactor.status == "active")).all()
    done = client.post(
        path, data={"reason": "Phone lost, ID checked", "csrf_token": csrf_token(page)}
    )
    assert "Second factors reset" in client.get(done.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert (
        db.scalars(
            select(MfaFactor).where(
                MfaFactor.user_id == world["alice"].id, MfaFactor.status == "active"
            )
        ).all()
        == []
    )
    [event] = tags(db, "op:user:factors_reset")
    assert event.details["reason"] == "Phone lost, ID checked"
    assert event.subject_user_id == world["alice"].id and event.actor_user_id == world["op"].id
    assert person.get("/account").status_code == 302  # her sessions ended
    mail = smtp_sink.to("alice@example.org")[-1]
    assert "All second factors" in mail_text(mail)
    refreshed = phone.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(rp.client_id, rp.secret),
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
