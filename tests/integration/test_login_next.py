"""After sign-in the browser returns to the page of ours that sent it to the login, and
never to another site (SECURITY.md I-08; the rules are in idp/safe_redirect.py)."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest

from idp.mfa import services as mfa
from idp.orgs import services
from tests.factories import PASSWORD, csrf_token, make_user, query
from tests.otp import oathtool_code


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    op, boss = make_user(db, "op"), make_user(db, "boss")
    op.is_operator = True
    secrets = {}
    for user in (op, boss):
        factor, secrets[user.username] = mfa.start_totp(db, settings, user, "Phone")
        factor.status = "active"
    org = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    services.add_member(db, org.id, boss, role="admin")
    db.commit()
    return {"org": org, "secrets": secrets}


def _sign_in_from(client, path: str, username: str) -> str:
    """Open ``path`` signed out, follow the redirect to the login page and sign in
    there; returns where the login sends the browser."""
    to_login = client.get(path)
    assert to_login.status_code == 302
    login_url = urlsplit(to_login.headers["Location"])
    assert login_url.path == "/login"
    assert query(to_login.headers["Location"])["next"] == path  # set by Flask-Login
    target = f"{login_url.path}?{login_url.query}"
    page = client.get(target).get_data(as_text=True)
    done = client.post(
        target,
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert done.status_code == 303
    return done.headers["Location"]


def test_operator_page_with_its_query_is_where_login_returns_I08(client, world):
    path = "/operator/orgs?status=pending&q=Siam"
    assert _sign_in_from(client, path, "op") == path
    # and the console's own step-up then brings the operator back to the same page
    step_up = client.get(path)
    assert "/mfa/challenge" in step_up.headers["Location"]
    challenge = step_up.headers["Location"]
    page = client.get(challenge).get_data(as_text=True)
    done = client.post(
        challenge,
        data={
            "method": "totp",
            "code": oathtool_code(world["secrets"]["op"]),
            "csrf_token": csrf_token(page),
        },
    )
    assert done.headers["Location"] == path
    assert client.get(path).status_code == 200


def test_organisation_console_page_is_where_login_returns_I08(client, world):
    path = f"/orgs/{world['org'].id}/admin/audit?tag=org:member:added"
    assert _sign_in_from(client, path, "boss") == path


def test_login_form_keeps_next_when_the_password_was_wrong_I08(client, world):
    path = "/operator/orgs?status=pending"
    page = client.get("/login", query_string={"next": path}).get_data(as_text=True)
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))
    assert query(action) == {"next": path}
    wrong = client.post(
        "/login",
        query_string={"next": path},
        data={"username": "op", "password": "wrong password!", "csrf_token": csrf_token(page)},
    )
    assert wrong.status_code == 200
    right = client.post(
        "/login",
        query_string={"next": path},
        data={"username": "op", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert right.headers["Location"] == path


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "https://evil.example/operator",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "\t//evil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "evil.example",
        "/account#@evil.example",
        "/operator?q=\r\nLocation:https://evil.example",
    ],
)
def test_next_that_could_leave_the_site_lands_on_the_account_page_I08(client, world, target):
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert re.search(r'<form method="post" action="([^"]*)"', page).group(1) == "/login"
    resp = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "op", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"
