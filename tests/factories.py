"""Factories and flow helpers for integration tests."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from idp.account.services import create_user
from idp.enrollment.notices import current_version
from idp.oidc.clients import register_client

PASSWORD = "correct horse battery staple"
RP = "https://rp.example.org/callback"
RP_LOGOUT = "https://rp.example.org/logged-out"


@dataclass
class RP_Client:
    client_id: str
    secret: str | None
    redirect_uri: str


def make_user(db, username="alice", email=None, password=PASSWORD, **kw):
    """A user who accepted the newest personal-data notice (pass ``notice_version=None``
    for one who never did: the sign-in then asks, issue 10)."""
    kw.setdefault("notice_version", current_version(db))
    user = create_user(
        db,
        username=username,
        email=email or f"{username}@example.org",
        password=password,
        name=kw.pop("name", username.title()),
        **kw,
    )
    db.commit()
    return user


def make_client(db, *, public=False, redirect_uris=(RP,), **kw) -> RP_Client:
    kw.setdefault("skip_consent", True)
    kw.setdefault("post_logout_redirect_uris", [RP_LOGOUT])
    new = register_client(
        db, name=kw.pop("name", "Test RP"), redirect_uris=list(redirect_uris), public=public, **kw
    )
    db.commit()
    return RP_Client(new.row.client_id, new.secret, redirect_uris[0] if redirect_uris else "")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(rp: RP_Client, challenge: str | None, **extra) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile email",
        "state": "st-123",
        "nonce": "n-456",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def login(client, username="alice", password=PASSWORD, flow=None):
    url = f"/login?flow={flow}" if flow else "/login"
    page = client.get(url)
    return client.post(
        url,
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def get_code(client, rp: RP_Client, username="alice", password=PASSWORD, **extra):
    """Run /authorize (logging in if asked) and return (code, verifier, final_location)."""
    verifier, challenge = pkce_pair()
    resp = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, **extra)))
    hops = 0
    while resp.status_code in (302, 303) and hops < 10:
        loc = resp.headers["Location"]
        if loc.startswith(rp.redirect_uri):
            return query(loc).get("code"), verifier, loc
        path = loc.replace("http://localhost", "")
        if path.startswith("/login"):
            flow = query(loc).get("flow")
            resp = login(client, username, password, flow)
        elif path.startswith("/consent"):
            page = client.get(path)
            resp = client.post(
                path,
                data={"decision": "allow", "csrf_token": csrf_token(page.get_data(as_text=True))},
            )
        else:
            resp = client.get(path)
        hops += 1
    raise AssertionError(
        f"flow did not reach the client: {resp.status_code} {resp.get_data(as_text=True)[:500]}"
    )


def exchange(client, rp: RP_Client, code, verifier, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
        **extra,
    }
    data = {k: v for k, v in data.items() if v is not None}
    if rp.secret:
        return client.post("/token", data=data, auth=(rp.client_id, rp.secret))
    return client.post("/token", data={**data, "client_id": rp.client_id})


def mail_text(msg) -> str:
    """The plain-text part of a mail received by the SMTP sink (every mail of ours is
    multipart/alternative: text and HTML), with its line ends as written (SMTP sends CRLF)."""
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def mail_html(msg) -> str:
    """The HTML part of a received mail."""
    return msg.get_body(preferencelist=("html",)).get_content()


def confirm(client, resp):
    """Press "Yes" on the confirmation page ``resp`` (idp/confirm.py): post its form
    with its hidden fields, as a browser does."""
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="confirm-yes"' in page, page[:500]
    # The form holding "Yes" (the language switch above it is a form of its own).
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    action, body = next((a, b) for a, b in forms if 'id="confirm-yes"' in b)
    action = html.unescape(action)
    fields = {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body)
    }
    return client.post(action, data=fields)
