"""Two real hosts, one state (issue 13 "Several hosts, one state"; SECURITY.md D-01..D-06
and section 7): two ``idp serve`` in two network namespaces share one PostgreSQL and one
Redis and behave as one IdP. A person's browser sits behind a load balancer that the
test plays: one cookie jar for the IdP's one name, each request sent to the host the
test picks, the person's address in ``X-Forwarded-For`` (``IDP_TRUSTED_PROXIES=1``)."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
import requests
from sqlalchemy import select

from idp import create_app
from idp.db import get_db
from idp.mfa import services as mfa
from idp.models import Client, User
from idp.oidc.acr import ACR_MFA_EMAIL
from tests.conftest import BASE_OVERRIDES, USE_PG, Inbox, fresh_database_url
from tests.factories import (
    PASSWORD,
    RP,
    RP_LOGOUT,
    authorize_params,
    csrf_token,
    mail_text,
    make_client,
    make_user,
    pkce_pair,
    query,
)
from tests.multihost.hosts import Host, hosts, why_no_namespaces

pytestmark = [
    pytest.mark.skipif(
        not USE_PG,
        reason="needs PostgreSQL: two hosts cannot share one SQLite file (this runs in the "
        "PostgreSQL pass of ./dev test)",
    ),
    pytest.mark.skipif(bool(why_no_namespaces()), reason=why_no_namespaces() or "-"),
]

ISSUER = "http://idp.test"  # the load balancer's name; no host is reached by it
LOGIN_LIMIT = 6  # IDP_LOGIN_RATE_LIMIT per client address, per hour (no window edge)


class Browser:
    """One person's browser: its cookies for the IdP's one name, whichever host answers."""

    def __init__(self, address: str) -> None:
        self.address = address  # what the load balancer puts in X-Forwarded-For
        self.cookies: dict[str, str] = {}

    def request(self, host: Host, method: str, target: str, **kw) -> requests.Response:
        parts = urlsplit(target)  # a Location may name the issuer: send it to `host`
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        resp = requests.request(
            method,
            host.base + path,
            cookies=self.cookies,
            headers={"X-Forwarded-For": self.address},
            allow_redirects=False,
            timeout=30,
            **kw,
        )
        self.cookies.update({c.name: c.value for c in resp.cookies})
        return resp

    def get(self, host: Host, target: str) -> requests.Response:
        return self.request(host, "GET", target)

    def post_form(self, host: Host, target: str, **data: str) -> requests.Response:
        """GET the page, then POST its form with the page's CSRF token."""
        page = self.get(host, target)
        return self.request(
            host, "POST", target, data={**data, "csrf_token": csrf_token(page.text)}
        )

    def follow(self, host: Host, resp: requests.Response) -> requests.Response:
        """Follow redirects on ``host`` up to a page the person must answer or the RP."""
        while resp.status_code in (302, 303):
            loc = resp.headers["Location"]
            if loc.startswith(RP) or "/login" in loc or "/mfa/" in loc:
                break
            resp = self.get(host, loc)
        return resp

    def authorize(self, host: Host, rp, **extra: str) -> tuple[requests.Response, str]:
        verifier, challenge = pkce_pair()
        params = authorize_params(rp, challenge, **extra)
        return self.follow(host, self.get(host, "/authorize?" + urlencode(params))), verifier

    def password(self, host: Host, resp: requests.Response, username: str) -> requests.Response:
        loc = resp.headers["Location"]
        assert "/login" in loc, loc
        done = self.post_form(host, loc, username=username, password=PASSWORD)
        return self.follow(host, done)


def code_of(resp: requests.Response) -> str:
    loc = resp.headers.get("Location", "")
    assert resp.status_code in (302, 303) and loc.startswith(RP), (resp.status_code, loc)
    return query(loc)["code"]


def token(host: Host, rp, **data: str) -> requests.Response:
    return requests.post(
        host.base + "/token", data=data, auth=(rp.client_id, rp.secret), timeout=30
    )


def redeem(host: Host, rp, code: str, verifier: str) -> requests.Response:
    return token(
        host,
        rp,
        grant_type="authorization_code",
        code=code,
        redirect_uri=rp.redirect_uri,
        code_verifier=verifier,
    )


def userinfo(host: Host, access_token: str) -> requests.Response:
    bearer = {"Authorization": f"Bearer {access_token}"}
    return requests.get(host.base + "/userinfo", headers=bearer, timeout=30)


def jwt_part(jwt: str, index: int) -> dict:
    part = jwt.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def world(template_db, tmp_path_factory):
    """Hosts A and B (one gunicorn worker each) on one database, one Redis, one SMTP
    inbox; an app on the same database for arranging people and clients."""
    workdir = tmp_path_factory.mktemp("hosts")
    url = fresh_database_url(template_db, workdir)
    # One secret for the hosts and the arranging app: it also seals secrets at rest
    # (a soft token's secret), which every host must open.
    secret_key = "two-hosts-one-secret-0123456789abcdef0123"  # noqa: S105 - a test value
    app = create_app({**BASE_OVERRIDES, "database_url": url, "secret_key": secret_key})
    inbox = Inbox()
    settings = {
        "IDP_ENV": "development",
        "IDP_ISSUER": ISSUER,
        "IDP_SECRET_KEY": secret_key,
        "IDP_TRUSTED_PROXIES": "1",
        "IDP_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour",
    }
    try:
        with hosts(2, url, workdir, inbox=inbox, **settings) as (a, b):
            yield {"app": app, "a": a, "b": b, "inbox": inbox}
    finally:
        get_db(app).dispose()


@pytest.fixture
def db(world):
    s = get_db(world["app"]).factory()
    yield s
    s.close()


def signed_in(browser: Browser, host: Host, rp, username: str) -> dict:
    """A password sign-in on ``host`` with offline_access; the token response."""
    resp, verifier = browser.authorize(host, rp, scope="openid offline_access")
    code = code_of(browser.password(host, resp, username))
    tokens = redeem(host, rp, code, verifier)
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_sign_in_on_a_step_up_on_b_and_codes_redeemed_on_the_other_host(world, db):
    """Password on A, emailed code (step-up, SECURITY.md 7) sent by A and entered on B;
    B's code redeemed on A, A's code redeemed on B, then replayed on A: refused, and
    the tokens B issued for it revoked (RFC 6749 4.1.2), whichever host sees what."""
    a, b, inbox = world["a"], world["b"], world["inbox"]
    make_user(db, "alice")
    rp = make_client(db)
    db.scalar(select(Client).where(Client.client_id == rp.client_id)).min_acr = ACR_MFA_EMAIL
    db.commit()
    alice = Browser("192.0.2.10")

    resp, verifier = alice.authorize(a, rp)
    challenge = alice.password(a, resp, "alice").headers["Location"]
    assert "/mfa/challenge" in challenge
    flow = query(challenge)["flow"]
    page = alice.get(a, challenge)
    sent = alice.request(
        a, "POST", f"/mfa/email/send?flow={flow}", data={"csrf_token": csrf_token(page.text)}
    )
    assert sent.status_code == 303
    mailed = mail_text(inbox.to("alice@example.org")[-1])
    otp = next(w for w in mailed.split() if w.isdigit() and len(w) == 6)
    entered = alice.post_form(b, challenge, method="email", code=otp)
    tokens = redeem(a, rp, code_of(alice.follow(b, entered)), verifier)
    assert tokens.status_code == 200, tokens.text
    assert jwt_part(tokens.json()["id_token"], 1)["acr"] == ACR_MFA_EMAIL

    again, verifier = alice.authorize(a, rp)  # A finds the session B stepped up
    code = code_of(again)
    on_b = redeem(b, rp, code, verifier)
    assert on_b.status_code == 200, on_b.text
    replayed = redeem(a, rp, code, verifier)
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    # RFC 6749 4.1.2: the replay on A revoked what B had issued for that code.
    assert userinfo(b, on_b.json()["access_token"]).status_code == 401
    claims = jwt_part(tokens.json()["id_token"], 1)
    assert userinfo(b, tokens.json()["access_token"]).json()["sub"] == claims["sub"]


def test_refresh_rotated_on_a_reuse_detected_on_b_P22(world, db):
    """RFC 9700 4.14.2, SECURITY.md P-22: the old refresh token presented to B after A
    rotated it is refused and ends the family, so A refuses the new one too."""
    a, b = world["a"], world["b"]
    make_user(db, "bob")
    rp = make_client(db)
    first = signed_in(Browser("192.0.2.20"), a, rp, "bob")["refresh_token"]
    rotated = token(a, rp, grant_type="refresh_token", refresh_token=first)
    assert rotated.status_code == 200, rotated.text
    reused = token(b, rp, grant_type="refresh_token", refresh_token=first)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    child = token(a, rp, grant_type="refresh_token", refresh_token=rotated.json()["refresh_token"])
    assert (child.status_code, child.json()["error"]) == (400, "invalid_grant")


def test_logout_on_a_ends_the_session_on_b_S03(world, db):
    """RP-initiated logout through A; B no longer knows the (replayed) session cookie."""
    a, b = world["a"], world["b"]
    make_user(db, "carol")
    rp = make_client(db)
    carol = Browser("192.0.2.30")
    tokens = signed_in(carol, b, rp, "carol")
    assert carol.get(a, "/account").status_code == 200
    hint = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": RP_LOGOUT})
    bye = carol.get(a, "/logout?" + hint)
    assert (bye.status_code, bye.headers["Location"]) == (302, RP_LOGOUT)
    assert carol.get(b, "/account").status_code == 302  # to the login page
    silent, _ = carol.authorize(b, rp, prompt="none")
    assert query(silent.headers["Location"])["error"] == "login_required"


def test_account_disabled_on_a_is_refused_on_b_at_once_E08(world, db):
    """SECURITY.md E-08: an operator disables a person on A (console, TOTP step-up);
    on B the person's access token, refresh token, session and password all stop."""
    a, b = world["a"], world["b"]
    dave_row = make_user(db, "dave")
    op = make_user(db, "op")
    op.is_operator = True
    factor, secret = mfa.start_totp(db, world["app"].extensions["idp_settings"], op, "Phone")
    factor.status = "active"
    db.commit()
    rp = make_client(db)
    dave = Browser("192.0.2.40")
    tokens = signed_in(dave, b, rp, "dave")

    operator = Browser("192.0.2.41")
    people = "/operator/people?q=dave@example.org"
    step_up = operator.password(a, operator.get(a, people), "op").headers["Location"]
    assert "/mfa/challenge" in step_up  # consoles always need a second factor
    done = operator.post_form(a, step_up, method="totp", code=pyotp.TOTP(secret).now())
    assert urlsplit(done.headers["Location"]).path == "/operator/people"
    page = operator.get(a, people)
    disabled = operator.request(
        a,
        "POST",
        f"/operator/people/{dave_row.id}/active",
        data={"action": "disable", "reason": "left", "csrf_token": csrf_token(page.text)},
    )
    assert query(disabled.headers["Location"])["m"] == "disabled"

    assert userinfo(b, tokens["access_token"]).status_code == 401
    refreshed = token(b, rp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
    assert dave.get(b, "/account").status_code == 302
    again = Browser("192.0.2.42").post_form(b, "/login", username="dave", password=PASSWORD)
    assert again.status_code == 200  # the form again, no session


def test_lockout_counts_failures_on_both_hosts_SECURITY_0_4(world, db):
    """Failed passwords on A and on B add up to one lockout (threshold 5): the right
    password is then refused on either host."""
    a, b = world["a"], world["b"]
    make_user(db, "erin")
    for i, host in enumerate([a, a, a, b, b]):
        wrong = Browser(f"192.0.2.{50 + i}")  # a new address each: no rate limit involved
        refused = wrong.post_form(host, "/login", username="erin", password="not the password")
        assert refused.status_code == 200
    right = Browser("192.0.2.59").post_form(a, "/login", username="erin", password=PASSWORD)
    assert right.status_code == 200  # refused: the form again
    db.expire_all()
    assert db.scalar(select(User.locked_until).where(User.username_key == "erin"))


def test_login_rate_limit_is_counted_once_across_hosts_in_redis(world):
    """IDP_LOGIN_RATE_LIMIT per client address: attempts on A and on B share one
    counter in the one Redis, so the limit is not doubled by a second host."""
    a, b = world["a"], world["b"]
    crowd = Browser("198.51.100.7")
    codes = [
        crowd.post_form(host, "/login", username=f"nobody{i}", password="guess").status_code
        for i, host in enumerate([a, b] * (LOGIN_LIMIT // 2) + [a, b])
    ]
    assert codes == [200] * LOGIN_LIMIT + [429, 429]


def test_key_rotation_on_a_reaches_b_without_restart(world, db):
    """`idp keys rotate` run on A: B publishes the new keys and signs with them, no
    restart (its key cache rechecks the table every few seconds, idp/oidc/keys.py)."""
    a, b = world["a"], world["b"]
    make_user(db, "frank")
    rp = make_client(db)
    signed_in(Browser("192.0.2.60"), b, rp, "frank")  # B has its key ring in memory

    def published_on_b() -> set[str]:
        return {k["kid"] for k in requests.get(b.base + "/jwks.json", timeout=30).json()["keys"]}

    before = published_on_b()
    new_kids = set(json.loads(a.cli("keys", "rotate"))["new_kids"])
    assert not new_kids & before
    deadline = time.monotonic() + 60
    while True:  # poll with a deadline (not a timing assertion)
        if new_kids <= published_on_b():
            break
        assert time.monotonic() < deadline, f"B never published {new_kids}"
        time.sleep(0.5)
    id_token = signed_in(Browser("192.0.2.61"), b, rp, "frank")["id_token"]
    assert jwt_part(id_token, 0)["kid"] in new_kids
