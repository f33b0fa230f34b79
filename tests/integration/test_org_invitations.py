"""An org admin adds people by email and never learns whether an address has an account
anywhere in the IdP (SECURITY.md E-02, A-02; ASVS 6.3.8): the answer is the same, and
the mail (real SMTP) tells an account holder to sign in and accept."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import select

from idp.mfa import services as mfa
from idp.models import AuditEvent, Invitation, Membership
from idp.orgs import invitations, services
from tests.factories import PASSWORD, csrf_token, login, mail_text, make_user, query
from tests.otp import oathtool_code

EXISTING = "ben@example.org"  # ben has an account (admin of another organisation)
UNKNOWN = "nobody@example.org"  # no account has this address


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    boss, ben, carl = make_user(db, "boss"), make_user(db, "ben"), make_user(db, "carl")
    factor, secret = mfa.start_totp(db, settings, boss, "Phone")
    factor.status = "active"
    org_a = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    org_b = services.create_org(db, kind="agency", identifier="MOC-01", name_th="B")
    services.add_member(db, org_a.id, boss, role="admin")
    services.add_member(db, org_b.id, ben, role="admin")
    db.commit()
    return {"a": org_a, "secret": secret, "boss": boss, "ben": ben, "carl": carl}


def _console(client, world) -> str:
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "boss")
    resp = client.get(f"/orgs/{world['a'].id}/admin")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    done = client.post(
        resp.headers["Location"],
        data={
            "method": "totp",
            "code": oathtool_code(world["secret"]),
            "csrf_token": csrf_token(page),
        },
    )
    return client.get(done.headers["Location"]).get_data(as_text=True)


FORMS = {"add-member": ("members", "who"), "invite": ("invite", "email")}


def _send(client, world, form: str, email: str):
    """Post the console form; returns the answer and the page it leads to."""
    page = client.get(f"/orgs/{world['a'].id}/admin").get_data(as_text=True)
    path, field = FORMS[form]
    resp = client.post(
        f"/orgs/{world['a'].id}/admin/{path}", data={field: email, "csrf_token": csrf_token(page)}
    )
    return resp, client.get(resp.headers["Location"])


def _normalised(html: str, email: str) -> str:
    """The page without the echoed address and the invitation's row id."""
    html = html.replace(email, "EMAIL")
    return re.sub(r"/invitations/\d+/withdraw", "/invitations/N/withdraw", html)


@pytest.mark.parametrize("form", list(FORMS))
def test_answer_is_the_same_for_an_address_with_and_without_account_E02_A02(
    client, db, world, form
):
    with time_machine.travel(1_800_000_000, tick=False):
        _console(client, world)
        answers = {}
        for email in (EXISTING, UNKNOWN):
            resp, page = _send(client, world, form, email)
            answers[email] = (
                resp.status_code,
                resp.headers["Location"],
                resp.get_data(as_text=True),
                page.status_code,
                _normalised(page.get_data(as_text=True), email),
            )
            # only this invitation is listed when the page is read for the next address
            for inv in invitations.open_invitations(db, world["a"].id):
                invitations.withdraw(db, world["a"].id, inv.id, world["boss"].id)
            db.commit()
    assert answers[EXISTING] == answers[UNKNOWN]
    status, location, _body, page_status, page = answers[UNKNOWN]
    assert (status, query(location)["m"], page_status) == (303, "invited", 200)
    assert "If this address can join, we have sent it an invitation" in page
    assert "EMAIL" in page  # the open invitation is listed with its address
    # nothing was added without the person's consent; the org's trail says the same
    assert _member_of_a(db, world, world["ben"].id) is None
    events = db.scalars(select(AuditEvent).where(AuditEvent.tag == "org:member:invited")).all()
    assert [e.subject_user_id for e in events] == [None, None]
    assert [e.details["email"] for e in events] == [EXISTING, UNKNOWN]
    assert events[0].details.keys() == events[1].details.keys()


@pytest.mark.parametrize("form", list(FORMS))
def test_the_right_mail_is_sent_to_each_address_E02(client, db, world, smtp_sink, form):
    world["ben"].locale = "en"  # the account holder's language; the new person: boss's page
    db.commit()
    _console(client, world)
    _send(client, world, form, EXISTING)
    _send(client, world, form, UNKNOWN)
    (to_account,) = smtp_sink.to(EXISTING)
    (to_new,) = smtp_sink.to(UNKNOWN)
    assert to_account["Subject"] == to_new["Subject"] == "Invitation to A"
    account_body, new_body = mail_text(to_account), mail_text(to_new)
    assert "sign in with your account and accept" in account_body
    assert "sign in" not in new_body.lower()
    for body in (account_body, new_body):
        assert re.search(r"http://localhost/invite/\S+", body)


def _link(smtp_sink, email: str) -> str:
    body = mail_text(smtp_sink.to(email)[-1])
    return re.search(r"http://localhost(/invite/\S+)", body).group(1)


def test_an_account_holder_joins_only_after_signing_in_and_accepting_E02(
    app, client, db, world, smtp_sink
):
    _console(client, world)
    _send(client, world, "add-member", EXISTING)
    link = _link(smtp_sink, EXISTING)
    ben = app.test_client()
    ben.set_cookie("idp_lang", "en", domain="localhost")
    page = ben.get(link)
    assert page.status_code == 200
    sign_in = re.search(r'id="invite-sign-in" href="([^"]+)"', page.text).group(1)
    assert query(sign_in.replace("&amp;", "&")) == {"next": link}
    token = csrf_token(ben.get("/login").text)  # the page itself has no form
    assert ben.post(link, data={"csrf_token": token}).status_code == 200
    assert _member_of_a(db, world, world["ben"].id) is None  # nothing without signing in
    login_page = ben.get(sign_in.replace("&amp;", "&")).get_data(as_text=True)
    signed_in = ben.post(
        sign_in.replace("&amp;", "&"),
        data={"username": "ben", "password": PASSWORD, "csrf_token": csrf_token(login_page)},
    )
    assert signed_in.headers["Location"] == link  # `next` brings ben back (I-08)
    join_page = ben.get(link).get_data(as_text=True)
    assert 'id="join"' in join_page
    joined = ben.post(link, data={"csrf_token": csrf_token(join_page)})
    assert joined.status_code == 303 and joined.headers["Location"] == "/account"
    m = _member_of_a(db, world, world["ben"].id)
    assert m is not None and m.role == "member"
    added = db.scalar(
        select(AuditEvent).where(
            AuditEvent.tag == "org:member:added",
            AuditEvent.subject_user_id == world["ben"].id,
            AuditEvent.org_id == world["a"].id,
        )
    )
    assert added.actor_user_id == world["boss"].id  # the inviter
    assert ben.get(link).status_code == 404  # single use


def test_another_signed_in_account_cannot_accept_an_invitation_E02(
    app, client, db, world, smtp_sink
):
    _console(client, world)
    _send(client, world, "invite", EXISTING)
    link = _link(smtp_sink, EXISTING)
    carl = app.test_client()
    login(carl, "carl")
    page = carl.get(link)
    assert page.status_code == 403 and 'id="join"' not in page.text
    token = csrf_token(carl.get("/account").text)  # the page itself has no form
    assert carl.post(link, data={"csrf_token": token}).status_code == 403
    assert _member_of_a(db, world, world["carl"].id) is None
    assert _member_of_a(db, world, world["ben"].id) is None
    inv = db.scalar(select(Invitation))
    assert inv.accepted_at is None  # still usable by ben


def test_accept_existing_refuses_an_account_with_another_address(db, world, app, smtp_sink):
    """The service's own check, not only the page's."""
    with app.test_request_context():
        invitations.invite(
            db, app.extensions["idp_settings"], world["a"], EXISTING, world["boss"].id
        )
        db.commit()
    token = re.search(r"/invite/(\S+)", mail_text(smtp_sink.to(EXISTING)[-1])).group(1)
    with pytest.raises(invitations.InvitationError) as exc:
        invitations.accept_existing(db, token, world["carl"])
    assert exc.value.code == "other_account"
    assert _member_of_a(db, world, world["carl"].id) is None


def test_a_new_person_still_registers_through_the_link(app, client, db, world, smtp_sink):
    _console(client, world)
    _send(client, world, "add-member", UNKNOWN)
    link = _link(smtp_sink, UNKNOWN)
    fresh = app.test_client()
    page = fresh.get(link).get_data(as_text=True)
    assert 'id="username"' in page
    resp = fresh.post(
        link,
        data={
            "username": "nobody",
            "name": "No Body",
            "password": "a long passphrase here",
            "id_kind": "national",
            "national_id": "1101700230708",
            "csrf_token": csrf_token(page),
        },
    )
    assert resp.status_code == 303
    assert (
        db.scalar(
            select(Membership)
            .where(Membership.org_id == world["a"].id)
            .order_by(Membership.id.desc())
        ).role
        == "member"
    )


@pytest.mark.parametrize("form", list(FORMS))
def test_a_members_address_or_a_bad_address_gets_its_own_answer_and_no_mail(
    client, world, smtp_sink, form
):
    """The admin sees the members' addresses already, so naming them leaks nothing."""
    _console(client, world)
    resp, _page = _send(client, world, form, "BOSS@example.org")
    assert query(resp.headers["Location"])["m"] == "already_member"
    resp, _page = _send(client, world, form, "not an address")
    assert query(resp.headers["Location"])["m"] == "email_invalid"
    assert smtp_sink.messages == []


def test_full_organisation_is_refused_before_any_mail_A4(client, db, world, smtp_sink):
    world["a"].member_limit = 1
    db.commit()
    _console(client, world)
    for email in (EXISTING, UNKNOWN):
        resp, _page = _send(client, world, "add-member", email)
        assert query(resp.headers["Location"])["m"] == "member_limit_reached"
    assert smtp_sink.messages == []


def _member_of_a(db, world, user_id: int) -> Membership | None:
    db.expire_all()
    return db.scalar(
        select(Membership).where(Membership.org_id == world["a"].id, Membership.user_id == user_id)
    )
