"""Changing one's password (SECURITY.md A-08) and the forced change of an account an
operator made or flagged (MISSION B2, issue 11): the current password counts toward the
lockout (SECURITY.md 0.4 a, b), other sessions and their tokens end, this one stays,
the person is mailed; a flagged account gets no code before it has chosen a password."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import time_machine
from sqlalchemy import select

from idp.account.passwords import verify_password
from idp.models import AuditEvent, User
from tests.factories import (
    PASSWORD,
    authorize_params,
    csrf_token,
    exchange,
    get_code,
    login,
    mail_text,
    make_client,
    make_user,
    pkce_pair,
    query,
)
from tests.integration.test_cli import database
from tests.integration.test_cli import run as run  # noqa: F401 - the CLI fixture
from tests.integration.test_operator_console import _operator
from tests.integration.test_operator_console import world as world  # noqa: F401 - fixture
from tests.integration.test_org_console import _invite, _join, _link
from tests.integration.test_org_console import world as org_world  # noqa: F401 - fixture

NEW = "a brand new passphrase 42"
T0 = 1_900_000_000
OFFLINE = "openid profile email offline_access"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


def _user(db, username="alice"):
    db.expire_all()
    return db.scalar(select(User).where(User.username_key == username))


def _events(db, tag):
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def _change(client, current=PASSWORD, new=NEW, confirm=None):
    page = client.get("/account/password").get_data(as_text=True)
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": csrf_token(page),
        },
    )


def _refresh(client, rp, refresh_token):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return client.post("/token", data=data, auth=(rp.client_id, rp.secret))


def _userinfo(client, token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def _tokens(client, rp, **extra):
    code, verifier, _ = get_code(client, rp, scope=OFFLINE, **extra)
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_wrong_current_password_counts_toward_the_lockout_A08(app, client, db):
    """SECURITY.md A-08 and 0.4 a/b: 5 wrong current passwords lock the account (the
    counter a wrong sign-in counts on), then even the right one is refused, here and
    at the login page."""
    make_user(db, "alice")
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "alice")
    for _ in range(5):
        wrong = _change(client, current="not my password at all")
        assert wrong.status_code == 400
        assert "That is not your current password." in wrong.get_data(as_text=True)
    right = _change(client)
    assert right.status_code == 400 and "locked for a few minutes" in right.get_data(as_text=True)
    user = _user(db)
    assert user.failed_logins == 5 and user.locked_until is not None
    assert verify_password(user.password_hash, PASSWORD)  # unchanged
    other = app.test_client()
    assert login(other, "alice").status_code == 200  # the sign-in is refused too
    assert _events(db, "account:password:changed") == []


def test_change_ends_other_sessions_and_their_tokens_keeps_this_one_A08(app, client, db, smtp_sink):
    """A-08: the other session's cookie no longer works and its tokens end; this
    session stays signed in (with a new id, S-02); the person is mailed; audited."""
    make_user(db, "alice", locale="en")
    rp = make_client(db, grant_types=["authorization_code", "refresh_token"])
    with time_machine.travel(T0, tick=False) as traveller:
        other = app.test_client()
        login(other, "alice")
        theirs = _tokens(other, rp)
        login(client, "alice")
        mine = _tokens(client, rp)
        before = client.get_cookie("idp_session").value
        changed_from = _user(db).password_changed_at  # made outside the travel: before T0

        traveller.shift(30)  # the change comes later than the sign-ins
        done = _change(client)
        assert done.status_code == 303
        assert query(done.headers["Location"])["m"] == "password_changed"

        user = _user(db)
        assert verify_password(user.password_hash, NEW)
        assert user.password_changed_at == T0 + 30 > changed_from
        assert client.get("/account").status_code == 200
        assert client.get_cookie("idp_session").value != before  # rotated
        gone = other.get("/account")
        assert gone.status_code == 302 and "/login" in gone.headers["Location"]
        # The other session's tokens end at once (access and refresh); this session's
        # access token runs on, and a new sign-in of its own (SSO) refreshes again.
        assert _userinfo(client, theirs["access_token"]).status_code == 401
        refused = _refresh(client, rp, theirs["refresh_token"])
        assert refused.get_json()["error"] == "invalid_grant"
        assert _userinfo(client, mine["access_token"]).status_code == 200
        again = _tokens(client, rp)  # no password asked: the session stays signed in
        assert _refresh(client, rp, again["refresh_token"]).status_code == 200
    event = _events(db, "account:password:changed")[0]
    assert event.details == {"forced": False, "sessions_ended": 1}
    mail = smtp_sink.to("alice@example.org")[-1]
    assert mail["Subject"] == "The password of your account was changed"  # in her language
    assert "The password of the account alice was changed" in mail_text(mail)


@pytest.mark.parametrize(
    "new,confirm,message",
    [
        ("short", "short", "too short"),
        (PASSWORD, PASSWORD, "must be different from your current one"),
        (NEW, NEW + "x", "two new passwords are not the same"),
        ("alice-is-my-name", "alice-is-my-name", "must not contain your username"),
    ],
)
def test_the_new_password_follows_the_policy_and_differs_A08(client, db, new, confirm, message):
    make_user(db, "alice")
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "alice")
    resp = _change(client, new=new, confirm=confirm)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert verify_password(_user(db).password_hash, PASSWORD)


def test_errors_are_in_thai_for_a_thai_page(client, db):
    make_user(db, "alice")
    client.set_cookie("idp_lang", "th", domain="localhost")
    login(client, "alice")
    resp = _change(client, current="wrong password here")
    assert resp.status_code == 400
    assert "That is not your current password." not in resp.get_data(as_text=True)
    assert 'lang="th"' in resp.get_data(as_text=True)


def _authorize(client, rp, **extra):
    verifier, challenge = pkce_pair()
    params = authorize_params(rp, challenge, **extra)
    return client.get("/authorize?" + urlencode(params)), verifier


def _new_password(client, location, new=NEW, confirm=None):
    path = location.replace("http://localhost", "")
    page = client.get(path).get_data(as_text=True)
    return client.post(
        path,
        data={
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": csrf_token(page),
        },
    )


def test_a_flagged_account_gets_no_code_until_it_changes_its_password_B2(client, db, smtp_sink):
    make_user(db, "alice", must_change_password=True)
    rp = make_client(db)
    resp, verifier = _authorize(client, rp)
    flow = query(resp.headers["Location"])["flow"]
    signed = login(client, "alice", flow=flow)
    resp = client.get(signed.headers["Location"])  # back to /authorize
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith(f"/account/password/new?flow={flow}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="password-rules"' in page  # the policy, as text
    # Nothing else while the change is due: /account sends back to it.
    assert client.get("/account").headers["Location"].startswith("/account/password/new")
    same = _new_password(client, resp.headers["Location"], new=PASSWORD)
    assert same.status_code == 400 and _user(db).must_change_password
    done = _new_password(client, resp.headers["Location"])
    assert done.status_code == 303 and "/authorize?" in done.headers["Location"]
    back = client.get(done.headers["Location"].replace("http://localhost", ""))
    assert back.headers["Location"].startswith(rp.redirect_uri)
    code = query(back.headers["Location"])["code"]
    assert exchange(client, rp, code, verifier).status_code == 200
    user = _user(db)
    assert not user.must_change_password and verify_password(user.password_hash, NEW)
    assert _events(db, "account:password:changed")[0].details["forced"] is True
    assert smtp_sink.to("alice@example.org")  # told, as after any change


def test_a_flagged_account_with_prompt_none_gets_interaction_required_B2(client, db):
    """OIDC Core 3.1.2.6: the person must act at the provider."""
    make_user(db, "alice")
    rp = make_client(db)
    get_code(client, rp)  # signed in, SSO session
    user = _user(db)
    user.must_change_password = True
    db.commit()
    resp, _ = _authorize(client, rp, prompt="none")
    assert resp.headers["Location"].startswith(rp.redirect_uri)
    assert query(resp.headers["Location"])["error"] == "interaction_required"
    assert "code" not in query(resp.headers["Location"])


def test_a_flagged_account_cannot_refresh_either_B2(client, db):
    make_user(db, "alice")
    rp = make_client(db, grant_types=["authorization_code", "refresh_token"])
    tokens = _tokens(client, rp)
    user = _user(db)
    user.must_change_password = True
    db.commit()
    assert _refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_direct_sign_in_with_the_flag_goes_to_the_change_first_B2(client, db):
    """Decision: every signed-in page except the change itself, sign-in and sign-out
    sends a flagged person to "choose a new password", then on to /account."""
    make_user(db, "alice", must_change_password=True)
    signed = login(client, "alice")
    home = client.get(signed.headers["Location"])
    assert home.status_code == 303 and home.headers["Location"] == "/account/password/new"
    assert client.get("/account/profile").headers["Location"] == "/account/password/new"
    logo = client.get("/brand/logo")  # the page's own logo loads
    logo.close()
    assert logo.status_code == 200
    done = _new_password(client, "/account/password/new")
    assert done.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200


def test_operator_requires_a_password_change_with_a_reason_B2(client, db, world):  # noqa: F811
    ann = world["ann"]
    page = _operator(client, world, "/operator/people?q=ann")
    assert f'id="require-password-change-{ann.username}"' in page
    path = f"/operator/people/{ann.id}/require-password-change?q=ann"
    missing = client.post(path, data={"reason": "  ", "csrf_token": csrf_token(page)})
    assert query(missing.headers["Location"])["m"] == "password_change_reason_missing"
    assert not _user(db, "ann").must_change_password
    done = client.post(path, data={"reason": "Shared by email", "csrf_token": csrf_token(page)})
    assert query(done.headers["Location"])["m"] == "password_change_required"
    assert _user(db, "ann").must_change_password
    (event,) = _events(db, "op:user:password_change_required")
    assert (event.actor_user_id, event.subject_user_id) == (world["op"].id, ann.id)
    assert event.details["reason"] == "Shared by email"
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "must choose a new password at their next sign-in" in shown


def test_the_operator_action_is_for_operators_only(client, db):
    make_user(db, "alice")
    bob = make_user(db, "bob")
    login(client, "alice")
    page = client.get("/account").get_data(as_text=True)
    resp = client.post(
        f"/operator/people/{bob.id}/require-password-change",
        data={"reason": "x", "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 404 and not _user(db, "bob").must_change_password


def test_an_account_made_with_the_cli_must_change_its_password_B2(run):  # noqa: F811
    result = run(
        "users",
        "add",
        "--username",
        "carol",
        "--email",
        "c@example.org",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    sub = json.loads(result.stdout)["sub"]
    with database(run) as (_app, s):
        assert s.scalar(select(User.must_change_password).where(User.sub == sub)) is True


def test_an_invited_person_chose_their_own_password_and_is_not_flagged_B2(
    app,
    client,
    db,
    org_world,  # noqa: F811
    smtp_sink,
):
    """The org admin's "add member" and the operator's first admin are invitations:
    the person chooses their own password, so nothing forces a change."""
    assert _invite(client, org_world) == "invited"
    assert _join(app.test_client(), _link(smtp_sink, "newbie@example.org")).status_code == 303
    assert _user(db, "newbie").must_change_password is False
