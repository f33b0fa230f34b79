"""The people's registration wizard (issue 10 "People"; SECURITY.md R-01, R-07, R-08,
X-06, A-09/A-10): every step and every rejection path, with the demo registry as a
real HTTP server and mail through a real SMTP sink."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.dev.registry import serve_registry
from idp.models import (
    AuditEvent,
    IdentityVerification,
    NoticeAcceptance,
    User,
)
from tests.factories import csrf_token, mail_text

T0 = 1_800_000_000
SOMCHAI_ID = "1101700203450"
SOMCHAI = {"given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-04-12"}
EMAIL = "somchai@example.org"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def registry_url():
    with serve_registry() as url:
        yield url


@pytest.fixture
def app(app_factory, smtp_sink, registry_url):
    return app_factory(smtp_url=smtp_sink.url, registry_url=registry_url)


@pytest.fixture(autouse=True)
def _english(client):
    client.set_cookie("idp_lang", "en", domain="localhost")


def _post(client, path, **data):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token(page)})


def step1(client, national_id=SOMCHAI_ID, email=EMAIL, **extra):
    data = {
        "member_type": "public",
        "document_kind": "national_id",
        "national_id": national_id,
        "email": email,
        "notice": "yes",
        **extra,
    }
    return _post(client, "/register/identity", **data)


def code_for(smtp_sink, address=EMAIL):
    for mail in reversed(smtp_sink.to(address)):
        found = re.search(r"\b(\d{6})\b", mail_text(mail))
        if found and "code" in mail_text(mail).lower():
            return found.group(1)
    raise AssertionError("no code mailed")


def details(client, code, **extra):
    data = {
        "action": "submit",
        "given_name_th": "สมชาย",
        "family_name_th": "ใจดี",
        "given_name_en": "Somchai",
        "family_name_en": "Jaidee",
        "gender": "male",
        "birthdate": "1985-04-12",
        "mobile": "0812345678",
        "code": code,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **extra,
    }
    return _post(client, "/register/details", **data)


def test_register_via_registry_lands_verified_and_signed_in(client, db, smtp_sink):
    """B1/C2: steps 1-3 through the population registry make a verified account."""
    assert client.get("/register").status_code == 200
    r = step1(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/prove")
    assert "/register/resume/" in mail_text(smtp_sink.to(EMAIL)[-1])
    r = _post(client, "/register/prove", action="registry", **SOMCHAI)
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/details")
    page = client.get("/register/details").get_data(as_text=True)
    assert "สมชาย" in page  # prefilled from step 2
    r = details(client, code_for(smtp_sink))
    assert r.status_code == 303, r.get_data(as_text=True)
    user = db.scalar(select(User).where(User.email_key == EMAIL))
    assert user.membership_status == "verified" and user.email_verified
    assert user.id_doc_masked == "x-xxxx-xxxxx-xx-0" and SOMCHAI_ID not in user.id_doc_cipher
    assert db.scalar(select(NoticeAcceptance).where(NoticeAcceptance.user_id == user.id))
    assert user.notice_version == 1
    proof = db.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert proof.method == "registry" and proof.outcome == "verified"
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "enrollment:account:created"))
    welcome = client.get(r.headers["Location"])
    assert welcome.status_code == 200 and "identity is verified" in welcome.get_data(as_text=True)
    assert client.get("/account").status_code == 200
    assert "Welcome" in smtp_sink.to(EMAIL)[-1]["Subject"]
