"""The person's data rights (issue 11, Thai PDPA s.30/s.31/s.33; SECURITY.md X-06,
E-08, S-03): the download of everything we hold about them, closing the account
(the person asks, an operator confirms, the account stops at once) and the erasure
job after IDP_CLOSED_ACCOUNT_RETENTION_DAYS; disabling an account ends its sessions
through the one front door."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import func, select

from idp.account import data_rights
from idp.account.services import create_user
from idp.audit import AuditTag, record
from idp.enrollment import pii
from idp.enrollment.identity import check_national_id
from idp.enrollment.notices import current_version
from idp.jobs import run_jobs
from idp.mfa import services as mfa
from idp.models import (
    AuditEvent,
    Client,
    Consent,
    EmailCode,
    Grant,
    IdentityVerification,
    LogoutDelivery,
    Membership,
    MfaFactor,
    NoticeAcceptance,
    RecoveryCode,
    Registration,
    ServiceRequest,
    Token,
    User,
    WebSession,
)
from idp.orgs import services as orgs
from tests.factories import (
    PASSWORD,
    confirm,
    csrf_token,
    exchange,
    get_code,
    login,
    mail_text,
    make_client,
    make_user,
    query,
)
from tests.integration.test_operator_console import _operator, _post

T0 = 1_800_000_000
DAY = 86400
ALICE_ID = "1101700230708"
BOB_ID = "3100900123455"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def settings(app):
    return app.extensions["idp_settings"]


def _person(db, settings, username, national_id, *, phone, org_identifier):
    """An account with something in every section of the export."""
    doc = pii.seal(settings, check_national_id(national_id))
    user = make_user(
        db,
        username,
        locale="en",
        given_name_th=f"ชื่อ-{username}",
        family_name_th=f"สกุล-{username}",
        gender="female",
        birthdate=date(1990, 1, 2),
        phone_number=phone,
        **doc.columns(),
    )
    factor, secret = mfa.start_totp(db, settings, user, f"Phone of {username}")
    factor.status = "active"
    codes = mfa.regenerate_recovery_codes(db, settings, user)
    t = T0 - DAY
    db.add(
        NoticeAcceptance(
            version=current_version(db),
            user_id=user.id,
            accepted_at=t,
            ip=f"198.51.100.{user.id}",
            user_agent=f"Browser of {username}",
        )
    )
    db.add(
        IdentityVerification(
            user_id=user.id, method="dopa", outcome="verified", at=t, evidence_ref=f"REF-{username}"
        )
    )
    db.add(
        Registration(
            public_id=f"reg-{username}",
            status="done",
            user_id=user.id,
            email=user.email,
            data={"mobile": phone},
            password_hash=f"$argon2id$registration-of-{username}",
            resume_hash=f"resume-hash-of-{username}",
            created_at=t,
            updated_at=t,
        )
    )
    db.add(
        ServiceRequest(
            user_id=user.id,
            kind="lost_device",
            details={"phone": phone},
            created_at=t,
            updated_at=t,
        )
    )
    org_rp = make_client(db, name=f"Org app of {username}")
    org = orgs.create_org(
        db, kind="company", identifier=org_identifier, name_th=f"บริษัทของ {username}"
    )
    orgs.allow_client(db, org.id, org_rp.client_id)
    scope = orgs.add_scope(db, org_rp.client_id, f"submit:{username}")
    orgs.add_member(db, org.id, user, role="admin")
    orgs.grant_scope(db, org.id, user.id, scope.id)
    db.add(Consent(user_id=user.id, client_id=org_rp.client_id, scope="openid", granted_at=t))
    record(db, AuditTag.ACCOUNT_PROFILE_UPDATED, actor=user.id, subject=user.id, field="phone")
    db.commit()
    return user, secret, codes


@pytest.fixture
def world(app, db, settings):
    with time_machine.travel(T0, tick=False):
        alice, alice_secret, alice_codes = _person(
            db, settings, "alice", ALICE_ID, phone="+66811110001", org_identifier="0105536092641"
        )
        bobby, _s, _c = _person(
            db,
            settings,
            "bobby-other",
            BOB_ID,
            phone="+66822220002",
            org_identifier="0105536000011",
        )
        # Something alice did to bobby: in her export without bobby's data.
        record(
            db,
            AuditTag.OP_EMAIL_CHANGED,
            actor=alice.id,
            subject=bobby.id,
            old="bobby-other@example.org",
        )
        op = make_user(db, "op")
        op.is_operator = True
        factor, op_secret = mfa.start_totp(db, settings, op, "Phone")
        factor.status = "active"
        db.commit()
    rp = make_client(db, name="e-Service")
    return {
        "alice": alice,
        "alice_secret": alice_secret,
        "alice_codes": alice_codes,
        "bobby": bobby,
        "op": op,
        "secret": op_secret,  # for test_operator_console._operator
        "rp": rp,
    }


def _signed_in_with_refresh(app, rp, username="alice"):
    """A browser of ``username`` signed in to ``rp`` (a session) with a refresh token."""
    browser = app.test_client()
    code, verifier, _ = get_code(browser, rp, username=username, scope="openid offline_access")
    tokens = exchange(browser, rp, code, verifier).get_json()
    return browser, tokens["refresh_token"]


def _refresh(client, rp, token):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(rp.client_id, rp.secret),
    )


# --- the export ----------------------------------------------------------------------


def test_export_has_every_section_of_this_person_only_X06(app, db, world, settings):
    """PDPA s.30: everything about alice; SECURITY.md X-06: nothing of bobby's."""
    alice = world["alice"]
    browser, _refresh_token = _signed_in_with_refresh(app, world["rp"])
    with app.app_context():
        data = data_rights.export(db, settings, db.get(User, alice.id), T0)
    text = json.dumps(data, ensure_ascii=False)
    profile = data["profile"]
    assert (profile["username"], profile["given_name_th"]) == ("alice", "ชื่อ-alice")
    assert (profile["birthdate"], profile["gender"]) == ("1990-01-02", "female")
    assert profile["identity_document"]["kind"] == "national_id"
    assert profile["identity_document"]["masked"] == alice.id_doc_masked
    # The number is the person's own data (PDPA s.30): in clear in their own copy.
    assert profile["identity_document"]["number"] == ALICE_ID
    [membership] = data["memberships"]
    assert membership["organisation"]["identifier"] == "0105536092641"
    assert membership["role"] == "admin"
    assert [e["scope"] for e in membership["entitlements"]] == ["submit:alice"]
    [notice] = data["notice_acceptances"]
    assert notice["version"] == current_version(db) and notice["ip"] == f"198.51.100.{alice.id}"
    assert [v["evidence_ref"] for v in data["identity_verifications"]] == ["REF-alice"]
    [factor] = data["second_factors"]
    assert (factor["kind"], factor["name"], factor["status"]) == (
        "totp",
        "Phone of alice",
        "active",
    )
    assert data["recovery_codes"] == {"unused": 10, "used": 0}
    assert len(data["sessions"]) == 1 and data["sessions"][0]["started_at"]
    assert [g["client_id"] for g in data["applications"]["grants"]] == [world["rp"].client_id]
    assert len(data["applications"]["consents"]) == 1
    assert [r["details"] for r in data["registrations"]] == [{"mobile": "+66811110001"}]
    assert [s["kind"] for s in data["service_requests"]] == ["lost_device"]
    actions = [(e["action"], e["about"]) for e in data["audit_events"]]
    assert ("account:profile:updated", "you") in actions
    about_bobby = [e for e in data["audit_events"] if e["about"] == "someone else"]
    assert about_bobby and all(e["details"] is None for e in about_bobby)
    # Nothing of the other person, not even through an event alice caused.
    bobby = world["bobby"]
    for theirs in ("bobby-other", BOB_ID, "+66822220002", bobby.sub, "0105536000011"):
        assert theirs not in text
    assert browser  # alice's session stays (it is listed above)


def test_export_contains_no_secrets_X06(app, db, world, settings):
    """SECURITY.md X-06: no hashes, seeds, codes, ciphers in the person's copy."""
    alice = db.get(User, world["alice"].id)
    _signed_in_with_refresh(app, world["rp"])
    with app.app_context():
        text = json.dumps(data_rights.export(db, settings, alice, T0), ensure_ascii=False)
    factor = db.scalar(select(MfaFactor).where(MfaFactor.user_id == alice.id))
    secrets_held = [
        alice.password_hash,
        alice.id_doc_cipher,
        alice.id_doc_hash,
        world["alice_secret"],
        factor.secret_enc,
        "$argon2id$registration-of-alice",
        "resume-hash-of-alice",
        *world["alice_codes"],
        *db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == alice.id)),
        *db.scalars(select(Token.token_hash).where(Token.user_id == alice.id)),
        *db.scalars(select(WebSession.id_hash).where(WebSession.user_id == alice.id)),
    ]
    assert len(secrets_held) > 15
    for secret in secrets_held:
        assert secret and secret not in text


def test_download_is_an_audited_attachment_never_cached(app, db, world):
    browser = app.test_client()
    login(browser, "alice")
    page = browser.get("/account").get_data(as_text=True)
    assert 'id="data-rights-link"' in page and 'id="close-account-link"' in page
    assert browser.get("/account/data").status_code == 200
    resp = browser.get("/account/data.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.mimetype == "application/json"
    assert resp.get_json()["profile"]["username"] == "alice"
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == str(AuditTag.ACCOUNT_DATA_EXPORTED))
    ).all()
    assert [(e.actor_user_id, e.subject_user_id) for e in events] == [(world["alice"].id,) * 2]


def test_download_and_closure_need_a_recent_password_M11(app, db, world):
    """Ten minutes after the password, the file and the closure page ask for it again
    (the login page's re-authentication), and nothing is exported meanwhile."""
    browser = app.test_client()
    with time_machine.travel(T0 + DAY, tick=False) as traveller:
        login(browser, "alice")
        traveller.shift(601)
        for path in ("/account/data.json", "/account/data", "/account/close"):
            resp = browser.get(path)
            assert resp.status_code == 303, path
            assert resp.headers["Location"].startswith("/login?next=/account/")
        token = csrf_token(browser.get("/account").get_data(as_text=True))
        closing = browser.post("/account/close", data={"csrf_token": token})
        assert closing.headers["Location"].startswith("/login?next=/account/close")
        page = browser.get("/login?next=/account/data").get_data(as_text=True)
        again = browser.post(
            "/login?next=/account/data",
            data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_token(page)},
        )
        assert again.headers["Location"] == "/account/data"
        assert browser.get("/account/data.json").status_code == 200
    exported = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.tag == str(AuditTag.ACCOUNT_DATA_EXPORTED))
    )
    assert exported == 1
    assert db.get(User, world["alice"].id).closure_requested_at is None


# --- closure ------------------------------------------------------------------------


def test_closure_request_then_operator_confirm_ends_everything_at_once_E08_S03(
    app, client, db, world, smtp_sink
):
    rp, alice = world["rp"], world["alice"]
    browser, refresh_token = _signed_in_with_refresh(app, rp)
    page = browser.get("/account/close").get_data(as_text=True)
    assert browser.post("/account/close", data={}).status_code == 400  # no CSRF token
    assert db.get(User, alice.id).closure_requested_at is None
    asked = browser.post("/account/close", data={"csrf_token": csrf_token(page)})
    assert asked.status_code == 303
    db.expire_all()
    assert db.get(User, alice.id).closure_requested_at is not None
    assert browser.get("/account").status_code == 200  # works until an operator confirms
    assert 'id="closure-requested"' in browser.get("/account/close").get_data(as_text=True)
    [request_mail] = smtp_sink.to("alice@example.org")
    assert request_mail["Subject"] == "We received your request to close your account"
    assert db.scalar(
        select(AuditEvent).where(
            AuditEvent.tag == str(AuditTag.ACCOUNT_CLOSURE_REQUESTED),
            AuditEvent.subject_user_id == alice.id,
        )
    )

    url = f"/operator/people/{alice.id}/close"
    people = _operator(client, world, "/operator/people?q=alice@example.org")
    assert "Closure asked for on" in people and 'id="close-alice"' in people
    no_reason = _post(client, url, people, reason="  ")
    assert query(no_reason.headers["Location"])["m"] == "closure_reason_missing"
    asking = _post(client, url, people, reason="Asked by the person, ticket 42")
    db.expire_all()
    assert db.get(User, alice.id).is_active  # the confirmation page changed nothing
    done = confirm(client, asking)
    assert query(done.headers["Location"])["m"] == "closed"

    db.expire_all()
    closed = db.get(User, alice.id)
    assert not closed.is_active and closed.closed_at is not None
    assert db.scalar(select(WebSession).where(WebSession.user_id == alice.id)) is None
    assert browser.get("/account").status_code in (302, 303)  # the old cookie: signed out
    assert _refresh(app.test_client(), rp, refresh_token).get_json()["error"] == "invalid_grant"
    # Refused above for the inactive account anyway; the tokens themselves ended too.
    live = select(Token).where(Token.user_id == alice.id, Token.revoked_at.is_(None))
    assert db.scalars(live).all() == []
    assert login(app.test_client(), "alice").status_code == 200  # the form again: refused
    subjects = [m["Subject"] for m in smtp_sink.to("alice@example.org")]
    assert subjects[-1] == "Your account was closed"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == str(AuditTag.OP_ACCOUNT_CLOSED)))
    assert event.subject_user_id == alice.id and event.actor_user_id == world["op"].id
    assert event.details == {"reason": "Asked by the person, ticket 42", "requested": True}
    # Closed is final: not enabled again, not closed twice.
    enable = _post(
        client, f"/operator/people/{alice.id}/active", people, action="enable", reason="request"
    )
    assert query(enable.headers["Location"])["m"] == "closed_not_enabled"
    twice = confirm(client, _post(client, url, people, reason="again"))
    assert query(twice.headers["Location"])["m"] == "already_closed"
    db.expire_all()
    assert not db.get(User, alice.id).is_active


def test_operator_may_close_without_a_request_with_a_reason(app, client, db, world):
    bobby = world["bobby"]
    people = _operator(client, world, "/operator/people?q=bobby-other@example.org")
    assert "Closure asked for on" not in people
    done = confirm(client, _post(client, f"/operator/people/{bobby.id}/close", people, reason="x"))
    assert query(done.headers["Location"])["m"] == "closed"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == str(AuditTag.OP_ACCOUNT_CLOSED)))
    assert event.details["requested"] is False


# --- erasure ------------------------------------------------------------------------


def _count(db, model, user_id):
    return db.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))


def test_erasure_job_after_retention_keeps_the_audit_trail_X06(app, db, world, settings):
    """PDPA s.33 after IDP_CLOSED_ACCOUNT_RETENTION_DAYS (30): before, nothing; after,
    the personal data is gone, the row and its id stay and the audit events (append-only)
    still refer to it; the job run again does nothing more; the names are free again."""
    alice, bobby = world["alice"], world["bobby"]
    _signed_in_with_refresh(app, world["rp"])
    db.add(
        EmailCode(
            user_id=alice.id,
            purpose="signin",
            binding="b",
            sent_to=alice.email,
            code_hash="h",
            created_at=T0,
            expires_at=T0 + 600,
        )
    )
    with app.app_context(), time_machine.travel(T0 + DAY, tick=False) as traveller:
        data_rights.close_account(db, alice.id, "asked", world["op"].id, T0 + DAY)
        db.commit()
        events_before = db.scalars(
            select(AuditEvent.id).where(AuditEvent.subject_user_id == alice.id)
        ).all()
        traveller.move_to(T0 + DAY + 30 * DAY - 1)
        assert run_jobs(db, settings)["closed_accounts_erased"] == 0
        db.expire_all()
        assert db.get(User, alice.id).username == "alice"
        assert _count(db, MfaFactor, alice.id) == 1
        traveller.move_to(T0 + DAY + 30 * DAY + 1)
        assert run_jobs(db, settings)["closed_accounts_erased"] == 1
        assert run_jobs(db, settings)["closed_accounts_erased"] == 0

    db.expire_all()
    erased = db.get(User, alice.id)
    assert erased.sub == alice.sub  # the pseudonym
    assert erased.erased_at == T0 + DAY + 30 * DAY + 1
    assert (erased.username, erased.email) == (f"#erased-{alice.id}", f"erased-{alice.id}@invalid")
    for field in ("name", "given_name_th", "family_name_th", "phone_number", "gender"):
        assert getattr(erased, field) == "", field
    assert erased.birthdate is None and erased.address == {}
    assert (erased.id_doc_cipher, erased.id_doc_hash, erased.id_doc_masked) == (None, None, "")
    assert not erased.is_active
    for model in (
        MfaFactor,
        RecoveryCode,
        WebSession,
        Grant,
        Token,
        Consent,
        EmailCode,
        Registration,
        Membership,
        IdentityVerification,
    ):
        assert _count(db, model, alice.id) == 0, model.__name__
    [notice] = db.scalars(select(NoticeAcceptance).where(NoticeAcceptance.user_id == alice.id))
    assert (notice.ip, notice.user_agent) == (None, "")  # that she consented stays provable
    [service_request] = db.scalars(select(ServiceRequest).where(ServiceRequest.user_id == alice.id))
    assert service_request.details == {}
    after = db.scalars(select(AuditEvent).where(AuditEvent.subject_user_id == alice.id)).all()
    assert set(events_before) <= {e.id for e in after}
    assert [e.tag for e in after].count(str(AuditTag.ACCOUNT_ERASED)) == 1
    # The other person is untouched.
    assert db.get(User, bobby.id).phone_number == "+66822220002"
    assert _count(db, MfaFactor, bobby.id) == 1
    # The erased account never signs in; its username and email are free again.
    assert login(app.test_client(), "alice").status_code == 200
    assert login(app.test_client(), f"#erased-{alice.id}", "!erased").status_code == 200
    again = create_user(db, username="alice", email="alice@example.org", password=PASSWORD)
    db.commit()
    assert again.id != alice.id
    assert login(app.test_client(), "alice").status_code == 303


# --- disabling ----------------------------------------------------------------------


def test_disabling_ends_sessions_through_end_sessions_and_refresh_tokens_E08(
    app, client, db, world
):
    """The operator's "Disable account" ends the person's browser sessions through the
    one front door (so their clients get a back-channel logout token, reason
    ``account_disabled``) and their refresh tokens, in one transaction."""
    rp = world["rp"]
    row = db.scalar(select(Client).where(Client.client_id == rp.client_id))
    row.backchannel_logout_uri = "https://rp.example.org/backchannel"
    db.commit()
    browser, refresh_token = _signed_in_with_refresh(app, rp)
    alice = world["alice"]
    people = _operator(client, world, "/operator/people?q=alice@example.org")
    done = _post(
        client, f"/operator/people/{alice.id}/active", people, action="disable", reason="left"
    )
    assert query(done.headers["Location"])["m"] == "disabled"
    assert db.scalar(select(WebSession).where(WebSession.user_id == alice.id)) is None
    assert browser.get("/account").status_code in (302, 303)
    assert _refresh(app.test_client(), rp, refresh_token).get_json()["error"] == "invalid_grant"
    live = select(Token).where(Token.user_id == alice.id, Token.revoked_at.is_(None))
    assert db.scalars(live).all() == []
    [delivery] = db.scalars(select(LogoutDelivery)).all()
    assert (delivery.client_id, delivery.reason, delivery.sub) == (
        rp.client_id,
        "account_disabled",
        alice.sub,
    )


def test_closure_mail_is_in_the_persons_language(app, client, db, world, smtp_sink):
    alice = db.get(User, world["alice"].id)
    alice.locale = "th"
    db.commit()
    browser = app.test_client()
    login(browser, "alice")
    page = browser.get("/account/close").get_data(as_text=True)
    browser.post("/account/close", data={"csrf_token": csrf_token(page)})
    [mail] = smtp_sink.to("alice@example.org")
    assert "alice" in mail_text(mail) and "30" in mail_text(mail)
    assert re.search(r"[\u0e00-\u0e7f]", mail["Subject"])  # Thai: her language, not the page's
