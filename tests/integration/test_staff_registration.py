"""Staff registration (MISSION C3; issue 10 step 4): the directory match at step 2
against a real slapd, the staff document when the directory does not find the person,
the operator's decisions and their mails (real SMTP sink), resubmission
(SECURITY.md R-02, R-03, R-05, R-06, R-08, X-01)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from idp.admin import reviews
from idp.db import get_db
from idp.enrollment import review
from idp.models import ApplicantDocument, IdentityVerification, ReviewItem, User
from idp.orgs.documents import MAX_BYTES
from tests.factories import csrf_token, login, mail_text, make_user
from tests.integration.test_registration import _post, code_for, details
from tests.ldap_server import SOMCHAI_ID, free_port

OTHER_ID = "1103700456121"  # valid check digit, not in the directory


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def app(app_factory, smtp_sink, ldap_directory):
    return app_factory(
        smtp_url=smtp_sink.url,
        directory_url=ldap_directory.url,
        directory_bind_dn=ldap_directory.bind_dn,
        directory_bind_password=ldap_directory.bind_password,
        directory_base_dn=ldap_directory.base_dn,
    )


@pytest.fixture(autouse=True)
def _english(client):
    client.set_cookie("idp_lang", "en", domain="localhost")


def staff_step1(client, national_id, email):
    data = {
        "member_type": "staff",
        "agency": "moc-dit",
        "document_kind": "national_id",
        "national_id": national_id,
        "email": email,
        "notice": "yes",
    }
    return _post(client, "/register/identity", **data)


def register_staff(client, smtp_sink, national_id, email, check=True):
    """Steps 1-3 of a staff member; returns the response of step 3's submission."""
    r = staff_step1(client, national_id, email)
    assert r.status_code == 303, r.get_data(as_text=True)
    if check:
        r = _post(client, "/register/prove", action="directory")
        if r.status_code != 303:
            r = _post(client, "/register/prove", action="continue")
    else:
        r = _post(client, "/register/prove", action="continue")
    assert r.status_code == 303
    return finish(client, smtp_sink, email)


def finish(client, smtp_sink, email):
    client.get("/register/details")  # mails the code
    return details(client, code_for(smtp_sink, email), position="Trade officer")


def upload(client, path, data, filename="card.png", kind="staff_card"):
    """POST a multipart body built in memory (Werkzeug's test builder spools a large one
    to a temporary file it never closes when the server refuses it)."""
    page = client.get(path).get_data(as_text=True)
    token = csrf_token(page) if "csrf_token" in page else ""

    def field(name, value):
        return (f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()

    body = (
        field("csrf_token", token)
        + field("kind", kind)
        + b'--B\r\nContent-Disposition: form-data; name="document"; filename="'
        + filename.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n--B--\r\n"
    )
    return client.post(path, data=body, content_type="multipart/form-data; boundary=B")


def test_staff_found_in_the_directory_gets_the_badge_at_once_C3(client, db, smtp_sink):
    r = staff_step1(client, SOMCHAI_ID, "somchai@moc.example")
    assert r.status_code == 303, r.get_data(as_text=True)
    assert "prove-directory" in client.get("/register/prove").get_data(as_text=True)
    r = _post(client, "/register/prove", action="directory")
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/details")
    r = finish(client, smtp_sink, "somchai@moc.example")
    assert r.status_code == 303 and "/register/waiting" not in r.headers["Location"]
    user = db.scalar(select(User).where(User.email_key == "somchai@moc.example"))
    assert (user.member_type, user.membership_status) == ("staff", "staff_verified")
    proof = db.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert proof.method == "directory" and proof.outcome == "verified"
    assert proof.evidence_ref == "uid=somchai,ou=people,dc=moc,dc=example"
    assert SOMCHAI_ID not in repr(proof.claims) + proof.evidence_ref
    assert db.scalar(select(ReviewItem).where(ReviewItem.user_id == user.id)) is None


def test_staff_not_in_the_directory_is_told_and_sends_a_document(client, db, smtp_sink):
    staff_step1(client, OTHER_ID, "new@moc.example")
    r = _post(client, "/register/prove", action="directory")
    assert r.status_code == 400 and "did not find you" in r.get_data(as_text=True)
    assert "prove-continue" in r.get_data(as_text=True)
    _post(client, "/register/prove", action="continue")
    r = finish(client, smtp_sink, "new@moc.example")
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/waiting")
    page = client.get("/register/waiting").get_data(as_text=True)
    assert 'id="staff-upload"' in page and 'aria-current="step"' in page, page
    r = upload(client, "/register/waiting", png(), "บัตร.png")
    assert r.status_code == 303
    page = client.get("/register/waiting").get_data(as_text=True)
    assert "Waiting for approval" in page and "staff-upload" not in page
    user = db.scalar(select(User).where(User.email_key == "new@moc.example"))
    assert user.membership_status == "pending"  # no tokens while pending
    item = db.scalar(select(ReviewItem).where(ReviewItem.user_id == user.id))
    assert (item.kind, item.status) == (review.STAFF_VERIFICATION, "open")
    doc = db.scalar(select(ApplicantDocument).where(ApplicantDocument.review_item_id == item.id))
    assert (doc.media_type, doc.kind, doc.original_name) == ("image/png", "staff_card", "บัตร.png")


def test_ldap_down_during_registration_gives_a_clear_message_and_the_document_path(
    app_factory, smtp_sink
):
    app = app_factory(smtp_url=smtp_sink.url, directory_url=f"ldap://127.0.0.1:{free_port()}")
    client = app.test_client()
    client.set_cookie("idp_lang", "en", domain="localhost")
    staff_step1(client, SOMCHAI_ID, "somchai@moc.example")
    r = _post(client, "/register/prove", action="directory")
    page = r.get_data(as_text=True)
    assert r.status_code == 503 and "cannot be reached" in page
    assert "staff ID card or a signed form" in page and "prove-continue" in page
    _post(client, "/register/prove", action="continue")
    r = finish(client, smtp_sink, "somchai@moc.example")
    assert r.headers["Location"].endswith("/register/waiting")
    with get_db(app).factory() as db:
        row = db.scalar(
            select(IdentityVerification).where(IdentityVerification.method == "directory")
        )
        assert (row.outcome, row.reason) == ("unavailable", "unreachable")


@pytest.fixture
def applicant(client, db):
    """A signed-in staff member without a badge (temporary), who sent nothing yet."""
    user = make_user(
        db, "nid", member_type="staff", membership_status="temporary", agency="moc-dit"
    )
    assert login(client, "nid").status_code in (302, 303)
    return user


@pytest.mark.parametrize(
    ("data", "filename", "status", "words"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "card.jpg", 400, "Only PDF, PNG and JPEG"),  # .exe
        (b"<html><script>alert(1)</script></html>", "card.png", 400, "Only PDF, PNG and JPEG"),
        (b"", "card.png", 400, "was empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES + 10), "big.png", 413, "larger than 10 MB"),
    ],
    ids=["exe-renamed-jpg", "html", "empty", "over-10-mb"],
)
def test_a_refused_file_changes_nothing_R02_R03(
    client, db, applicant, data, filename, status, words
):
    r = upload(client, "/account/application", data, filename)
    assert r.status_code == status and words in r.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, applicant.id).membership_status == "temporary"
    assert db.scalar(select(ReviewItem).where(ReviewItem.user_id == applicant.id)) is None


def test_a_body_far_over_the_limit_is_413_before_it_is_read_R03(client, db, applicant):
    r = upload(client, "/account/application", b"\x89PNG" + b"x" * (MAX_BYTES + 200_000))
    assert r.status_code == 413 and "larger than 10 MB" in r.get_data(as_text=True)


def test_double_submission_is_refused_while_waiting(client, db, applicant):
    assert upload(client, "/account/application", png()).status_code == 302
    r = upload(client, "/account/application", png())
    assert r.status_code == 409
    assert len(list(db.scalars(select(ReviewItem).where(ReviewItem.user_id == applicant.id)))) == 1


def test_nobody_else_has_an_application_page_R08(client, db):
    make_user(db, "pub")  # a member of the public: no staff application
    login(client, "pub")
    assert client.get("/account/application").status_code == 404
    assert upload(client, "/account/application", png()).status_code in (404, 400)
    assert client.get("/register/waiting").status_code == 302


def _decide(app, item_id, decision, reason=""):
    with app.app_context():
        db = get_db(app).factory()
        operator = db.scalar(select(User).where(User.username == "op")) or make_user(
            db, "op", is_operator=True
        )
        reviews.decide(db, app.extensions["idp_settings"], item_id, operator.id, decision, reason)
        db.commit()
        db.close()


def _item(db, user_id):
    db.expire_all()
    return db.scalar(
        select(ReviewItem).where(ReviewItem.user_id == user_id).order_by(ReviewItem.id.desc())
    )


def test_approval_gives_the_badge_a_document_verdict_and_a_mail_R05(
    app, client, db, applicant, smtp_sink
):
    upload(client, "/account/application", png())
    _decide(app, _item(db, applicant.id).id, "approve")
    user = db.get(User, applicant.id)
    assert user.membership_status == "staff_verified"
    proof = db.scalar(select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert (proof.method, proof.outcome, proof.evidence_type) == (
        "document",
        "verified",
        "document",
    )
    mail = smtp_sink.to(applicant.email)[-1]
    assert "approved" in mail["Subject"] and "staff badge" in mail_text(mail)
    with pytest.raises(review.ReviewError) as err:  # decided once
        _decide(app, _item(db, applicant.id).id, "reject", "late")
    assert err.value.status == 409


def test_rejection_with_a_reason_is_mailed_shown_and_a_correction_resubmits_R06(
    app, client, db, applicant, smtp_sink
):
    upload(client, "/account/application", png())
    first = _item(db, applicant.id).id
    _decide(app, first, "reject", "The card has expired.")
    assert db.get(User, applicant.id).membership_status == "rejected"
    mail = smtp_sink.to(applicant.email)[-1]
    assert "not approved" in mail["Subject"] and "The card has expired." in mail_text(mail)
    assert "/account/application" in mail_text(mail)
    page = client.get("/account/application").get_data(as_text=True)
    assert "The card has expired." in page and 'data-state="rejected"' in page
    assert "staff-upload" in page
    r = upload(client, "/account/application", png(), "new-card.png")
    assert r.status_code == 302
    db.expire_all()
    assert db.get(User, applicant.id).membership_status == "pending"
    item = _item(db, applicant.id)
    assert item.id != first and item.status == "open"


def test_more_information_is_mailed_and_answered_by_a_new_upload(
    app, client, db, applicant, smtp_sink
):
    upload(client, "/account/application", png())
    item_id = _item(db, applicant.id).id
    _decide(app, item_id, "more_info", "Please send the back of the card too.")
    mail = smtp_sink.to(applicant.email)[-1]
    assert "more information" in mail["Subject"]
    assert "Please send the back of the card too." in mail_text(mail)
    assert db.get(User, applicant.id).membership_status == "pending"
    page = client.get("/account/application").get_data(as_text=True)
    assert "Please send the back of the card too." in page and "staff-upload" in page
    assert upload(client, "/account/application", png(), "back.png").status_code == 302
    item = _item(db, applicant.id)
    assert item.id == item_id and item.status == "open"
    docs = db.scalars(select(ApplicantDocument).where(ApplicantDocument.review_item_id == item_id))
    assert [d.kind for d in docs] == ["staff_card", "answer"]


def test_the_decision_mail_is_in_the_applicants_language(app, client, db, applicant, smtp_sink):
    applicant = db.get(User, applicant.id)
    applicant.locale = "th"
    db.commit()
    upload(client, "/account/application", png())
    _decide(app, _item(db, applicant.id).id, "reject", "บัตรหมดอายุ")
    mail = smtp_sink.to(applicant.email)[-1]
    assert "บัตรหมดอายุ" in mail_text(mail) and "ไม่ได้รับการอนุมัติ" in mail["Subject"]
