"""The person's own profile (issue 11): names and mobile number; names a registry or
the identity app verified change only through re-verification (refused server-side
even when posted); errors are translated; the audit names the changed fields only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.enrollment import verdicts
from idp.enrollment.verifiers import Method, Outcome, Verdict
from idp.models import AuditEvent, User
from tests.factories import csrf_token, login, make_user, query

T0 = 1_900_000_000
FORM = {
    "given_name": "Alice",
    "family_name": "Smith",
    "given_name_th": "อลิซ",
    "family_name_th": "สมิธ",
    "phone_number": "081-234-5678",
}


def _user(db, username="alice"):
    db.expire_all()
    return db.scalar(select(User).where(User.username_key == username))


def _post(client, **fields):
    page = client.get("/account/profile").get_data(as_text=True)
    return client.post("/account/profile", data={**fields, "csrf_token": csrf_token(page)})


def _verified(db, user, method=Method.REGISTRY):
    verdicts.record(
        db,
        verdict=Verdict(outcome=Outcome.VERIFIED, method=method, at=T0, evidence_ref="t-1"),
        user_id=user.id,
    )
    db.commit()


def test_edit_names_and_mobile_audits_which_fields_changed(client, db):
    alice = make_user(db, "alice", phone_number="0899999999", phone_number_verified=True)
    login(client, "alice")
    assert 'id="edit-profile"' in client.get("/account").get_data(as_text=True)
    done = _post(client, **FORM)
    assert done.status_code == 303 and query(done.headers["Location"])["m"] == "profile_saved"
    user = _user(db)
    assert (user.given_name, user.family_name, user.given_name_th, user.family_name_th) == (
        "Alice",
        "Smith",
        "อลิซ",
        "สมิธ",
    )
    assert user.name == "Alice Smith"
    assert (user.phone_number, user.phone_number_verified) == ("0812345678", False)
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.tag == "account:profile:updated"))
    assert event.subject_user_id == alice.id
    assert set(event.details["fields"]) == set(FORM)
    assert "Smith" not in str(event.details) and "0812345678" not in str(event.details)
    again = _post(client, **FORM)
    assert query(again.headers["Location"])["m"] == "profile_unchanged"


def test_an_unchanged_mobile_stays_verified(client, db):
    make_user(db, "alice", phone_number="0812345678", phone_number_verified=True)
    login(client, "alice")
    _post(client, **FORM)
    assert _user(db).phone_number_verified is True


@pytest.mark.parametrize(
    "lang,field,value,message",
    [
        ("en", "phone_number", "12ab", "Enter a mobile number of 9 to 15 digits"),
        ("en", "phone_number", "+1234", "Enter a mobile number of 9 to 15 digits"),
        ("th", "phone_number", "12ab", "กรอกหมายเลขโทรศัพท์มือถือ"),
        ("en", "given_name", "x" * 101, "at most 100 characters"),
    ],
)
def test_validation_errors_are_translated(client, db, lang, field, value, message):
    make_user(db, "alice")
    client.set_cookie("idp_lang", lang, domain="localhost")
    login(client, "alice")
    resp = _post(client, **{**FORM, field: value})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert _user(db).given_name == ""  # nothing saved


def test_a_name_is_required_in_one_script(client, db):
    make_user(db, "alice")
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "alice")
    resp = _post(client, **{**FORM, "given_name": "", "given_name_th": ""})
    assert resp.status_code == 400 and "Enter your given name" in resp.get_data(as_text=True)


def test_verified_names_are_read_only_and_refused_even_if_posted(client, db):
    """Names a registry verified change only through re-verification: the page shows
    them read-only with the way to /account/verify, and posted names are ignored."""
    alice = make_user(db, "alice", given_name="Alice", family_name="Smith")
    _verified(db, alice)
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, "alice")
    page = client.get("/account/profile").get_data(as_text=True)
    assert 'id="names-locked"' in page and 'href="/account/verify"' in page
    assert 'id="given_name"' in page and "readonly" in page.split('id="given_name"')[1][:300]
    done = _post(client, **{**FORM, "given_name": "Mallory", "family_name": "Forged"})
    assert done.status_code == 303
    user = _user(db)
    assert (user.given_name, user.family_name, user.given_name_th) == ("Alice", "Smith", "")
    assert user.phone_number == "0812345678"  # the mobile is still the person's to edit


def test_a_directory_match_does_not_lock_the_names(client, db):
    """Only a verifier that proves identity (registry, identity app) locks names."""
    alice = make_user(db, "alice")
    _verified(db, alice, Method.DIRECTORY)
    login(client, "alice")
    assert 'id="names-locked"' not in client.get("/account/profile").get_data(as_text=True)
    _post(client, **FORM)
    assert _user(db).given_name == "Alice"


def test_the_form_needs_its_csrf_token(client, db):
    make_user(db, "alice")
    login(client, "alice")
    resp = client.post("/account/profile", data=FORM)
    assert resp.status_code == 400 and _user(db).given_name == ""
