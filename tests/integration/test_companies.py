"""Company self-registration (issue 10, MISSION A1; SECURITY.md R-01..R-08): the wizard,
submission, the operator's decisions through ``review.decide`` and resubmission."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.companies import services as companies
from idp.enrollment import review
from idp.enrollment.identity import thai_id_check_digit
from idp.models import (
    ApplicantDocument,
    AuditEvent,
    Membership,
    Organization,
    OrgClient,
    OrgDocument,
    Registration,
    ReviewItem,
)
from idp.orgs import services as org_services
from idp.orgs.documents import MAX_BYTES
from idp.orgs.login import org_facts
from tests.factories import csrf_token, login, mail_text, make_client, make_user
from tests.unit.orgs.test_documents import pdf


def jid(twelve: str = "010555600000") -> str:
    return twelve + thai_id_check_digit(twelve)


JID = jid()
ADDRESS = {
    "office": "head_office",
    "branch_no": "",
    "address": "99 Rama IV Road",
    "district": "Pathum Wan",
    "province": "Bangkok",
    "postcode": "10330",
    "phone": "02 123 4567",
    "contact_name": "Somchai Jaidee",
    "contact_email": "somchai@acme.example",
    "contact_phone": "081 234 5678",
    "website": "https://acme.example",
}


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def people(app, db):
    applicant = make_user(db, "applicant", name="Ann Applicant")
    applicant.locale = "th"
    operator = make_user(db, "op")
    operator.is_operator = True
    db.commit()
    return {"applicant": applicant, "op": operator}


def _post(client, path, **fields):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page), **fields})


def _step1(client, identifier=JID, name_th="บริษัท แอคมี จำกัด", name_en="Acme Co., Ltd."):
    return _post(
        client, "/register/company", juristic_id=identifier, name_th=name_th, name_en=name_en
    )


def _step2(client, **over):
    return _post(client, "/register/company/address", **{**ADDRESS, **over})


def _upload(client, path, data: bytes, name="poa.pdf", fields=None, token=True):
    """A multipart body built in memory (as tests/integration/test_org_documents.py)."""
    page = client.get("/register/company").get_data(as_text=True)  # the session's token
    parts = {**(fields or {})}
    if token:
        parts["csrf_token"] = csrf_token(page)
    body = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="'
        + k.encode()
        + b'"\r\n\r\n'
        + v.encode()
        + b"\r\n"
        for k, v in parts.items()
    )
    body += (
        b'--B\r\nContent-Disposition: form-data; name="document"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n--B--\r\n"
    )
    return client.post(path, data=body, content_type="multipart/form-data; boundary=B")


def _register(client, identifier=JID, document=None):
    """Steps 1-4 for the signed-in applicant; returns the final response."""
    assert _step1(client, identifier).status_code == 303
    assert _step2(client).status_code == 303
    return _upload(client, "/register/company/submit", pdf() if document is None else document)


def _org(db, identifier=JID) -> Organization:
    db.expire_all()
    return db.scalar(select(Organization).where(Organization.identifier == identifier))


def _item(db, org_id) -> ReviewItem:
    db.expire_all()
    return db.scalar(
        select(ReviewItem).where(ReviewItem.org_id == org_id).order_by(ReviewItem.id.desc())
    )


def _decide(app, db, item_id, operator_id, decision, reason=""):
    settings = app.extensions["idp_settings"]
    with app.test_request_context():
        review.decide(db, settings, item_id, operator_id, decision, reason)
        db.commit()


def test_signed_in_person_registers_a_pending_company_as_its_admin_A1(app, client, db, people):
    login(client, "applicant")
    resp = _register(client)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(
        "/register/company/submitted"
    )
    org = _org(db)
    assert org.kind == "company" and org.status == "pending"
    assert org.name_th == "บริษัท แอคมี จำกัด" and org.name_en == "Acme Co., Ltd."
    assert (
        org.head_office["postcode"] == "10330" and org.contact["contact_name"] == "Somchai Jaidee"
    )
    m = db.scalar(select(Membership).where(Membership.org_id == org.id))
    assert m.user_id == people["applicant"].id and m.role == "admin"
    doc = db.scalar(select(OrgDocument).where(OrgDocument.org_id == org.id))
    assert doc.media_type == "application/pdf" and doc.review == "pending"
    item = _item(db, org.id)
    assert item.kind == review.COMPANY_REGISTRATION and item.status == "open"
    assert item.user_id == people["applicant"].id and item.flags == []
    assert db.scalar(select(func.count()).select_from(ApplicantDocument)) == 1
    tags = set(db.scalars(select(AuditEvent.tag).where(AuditEvent.org_id == org.id)))
    assert "company:registration:submitted" in tags
    described = companies.describe(db, item)
    assert described["identifier"] == JID and described["document_id"] == doc.id
    assert described["address"]["district"] == "Pathum Wan" and described["on_file"] is False


def test_wizard_shows_numbered_steps_with_the_current_one(client):
    page = client.get("/register/company").get_data(as_text=True)
    assert 'class="idp-steps"' in page and 'aria-current="step"' in page


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        (JID[:-1] + str((int(JID[-1]) + 1) % 10), "check digit"),  # one digit altered
        ("12345", "13 digits"),
        ("abcdefghijklm", "13 digits"),
    ],
)
def test_bad_juristic_id_is_a_field_error_and_keeps_what_was_typed_R01(
    client, db, identifier, message
):
    client.set_cookie("idp_lang", "en", domain="localhost")
    resp = _step1(client, identifier, name_en="Typed Co.")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in page and 'id="juristic_id-error"' in page
    assert 'value="Typed Co."' in page
    assert db.scalar(select(func.count()).select_from(Registration)) == 0


def test_missing_fields_are_all_listed_WCAG_3_3_1(client):
    client.set_cookie("idp_lang", "en", domain="localhost")
    resp = _step1(client, JID, name_th="", name_en="")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "There are 2 problems" in page
    assert _step1(client).status_code == 303
    resp = _step2(client, address="", contact_email="not-an-email", office="branch")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for field in ("address-error", "contact_email-error", "branch_no-error"):
        assert f'id="{field}"' in page
    assert 'value="Pathum Wan"' in page  # what was typed stays


def test_not_signed_in_is_offered_sign_in_and_comes_back_with_the_draft(client, db, people):
    _step1(client)
    _step2(client)
    page = client.get("/register/company/admin").get_data(as_text=True)
    assert 'id="company-sign-in"' in page and "next=/register/company/admin" in page
    # Submitting without an account creates nothing (and is sent to sign in first).
    resp = _upload(client, "/register/company/submit", pdf())
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/register/company/admin")
    assert _org(db) is None
    resp = client.post(
        "/login?next=/register/company/admin",
        data={
            "username": "applicant",
            "password": "correct horse battery staple",
            "csrf_token": csrf_token(client.get("/login").get_data(as_text=True)),
        },
    )
    assert resp.headers["Location"].endswith("/register/company/admin")
    page = client.get("/register/company/admin").get_data(as_text=True)
    assert 'id="company-admin"' in page
    assert _upload(client, "/register/company/submit", pdf()).status_code == 303
    assert _org(db).name_en == "Acme Co., Ltd."  # the draft survived the sign-in


def test_oversized_file_is_413_and_nothing_is_created_R03(client, db, people):
    login(client, "applicant")
    resp = _register(client, document=pdf(b"0" * (MAX_BYTES + 1)))
    assert resp.status_code == 413
    assert _org(db) is None and db.scalar(select(func.count()).select_from(ReviewItem)) == 0


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00" + b"\x00" * 100,  # an .exe named poa.pdf
        b"<svg onload=alert(1)></svg>",
        pdf(b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n"),
        b"",
    ],
)
def test_disguised_or_empty_file_is_refused_R02(client, db, people, data):
    login(client, "applicant")
    resp = _register(client, document=data)
    assert resp.status_code == 400 and 'id="document-error"' in resp.get_data(as_text=True)
    assert _org(db) is None


def test_juristic_id_on_file_gets_the_generic_answer_and_a_flag_R01(client, db, people):
    existing = org_services.create_org(db, kind="company", identifier=JID, name_th="เดิม")
    db.commit()
    login(client, "applicant")
    resp = _register(client)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(
        "/register/company/submitted"
    )
    assert db.scalar(select(func.count()).select_from(Organization)) == 1
    item = _item(db, existing.id)
    assert item.flags == [companies.ON_FILE] and item.user_id == people["applicant"].id
    assert not org_services.is_org_admin(db, existing.id, people["applicant"].id)
    described = companies.describe(db, item)
    assert described["on_file"] and described["name_en"] == "Acme Co., Ltd."
    assert described["applicant_document_ids"]


def test_generic_answer_is_the_same_page_R01(client, db, people):
    login(client, "applicant")
    _register(client)
    fresh = client.get("/register/company/submitted").get_data(as_text=True)
    other = make_user(db, "other")
    assert other
    client2 = client.application.test_client()
    login(client2, "other")
    _register(client2)
    assert client2.get("/register/company/submitted").get_data(as_text=True) == fresh


def test_double_submission_creates_one_organisation(client, db, people):
    login(client, "applicant")
    assert _register(client).status_code == 303
    again = _upload(client, "/register/company/submit", pdf())
    assert again.status_code == 303 and again.headers["Location"].endswith("/submitted")
    assert db.scalar(select(func.count()).select_from(Organization)) == 1
    assert db.scalar(select(func.count()).select_from(ReviewItem)) == 1
    assert db.scalar(select(func.count()).select_from(ApplicantDocument)) == 1
    assert _item(db, _org(db).id).flags == []  # not mistaken for a juristic ID on file


def test_posts_need_csrf_S05(client, db, people):
    login(client, "applicant")
    _step1(client)
    _step2(client)
    resp = _upload(client, "/register/company/submit", pdf(), token=False)
    assert resp.status_code == 303 and _org(db) is None


def test_someone_elses_application_is_404_R08(client, db, people):
    login(client, "applicant")
    _register(client)
    org = _org(db)
    assert client.get(f"/register/company/{org.id}").status_code == 200
    make_user(db, "mallory")
    intruder = client.application.test_client()
    login(intruder, "mallory")
    assert intruder.get(f"/register/company/{org.id}").status_code == 404
    assert intruder.get("/register/company/999999").status_code == 404
    resp = _upload(intruder, f"/register/company/{org.id}", pdf(), fields={"name_th": "x"})
    assert resp.status_code == 404


def test_pending_admin_has_no_console_and_no_org_claims_R05(app, client, db, people):
    login(client, "applicant")
    _register(client)
    org = _org(db)
    rp = make_client(db, client_id="einvoice")
    db.add(OrgClient(org_id=org.id, client_id=rp.client_id, scopes=None))
    from idp.models import ClientScope

    db.add(ClientScope(client_id=rp.client_id, name="einvoice:submit"))
    db.commit()
    resp = client.get(f"/orgs/{org.id}/admin")
    assert resp.status_code == 403 and 'id="org-not-approved"' in resp.get_data(as_text=True)
    assert client.get(f"/orgs/{org.id}/admin/profile").status_code == 403
    assert org_facts(db, rp.client_id, people["applicant"].id).candidates == ()
    _decide(app, db, _item(db, org.id).id, people["op"].id, "approve")
    # Approved: the console asks for its step-up instead of refusing, and the
    # organisation becomes a candidate for org claims.
    assert client.get(f"/orgs/{org.id}/admin").status_code == 303
    assert org_facts(db, rp.client_id, people["applicant"].id).candidates == (org.id,)


def test_applicant_cannot_decide_own_registration_R05(app, client, db, people):
    login(client, "applicant")
    _register(client)
    item = _item(db, _org(db).id)
    with pytest.raises(review.ReviewError) as exc:
        _decide(app, db, item.id, people["applicant"].id, "approve")
    assert exc.value.status == 403


def test_approve_activates_audits_and_mails_in_the_applicants_language(
    app, client, db, people, smtp_sink
):
    login(client, "applicant")
    _register(client)
    org = _org(db)
    item_id = _item(db, org.id).id
    _decide(app, db, item_id, people["op"].id, "approve")
    assert _org(db).status == "active"
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "company:registration:decided"))
    assert event.details["decision"] == "approve" and event.actor_user_id == people["op"].id
    mail = smtp_sink.to("applicant@example.org")[-1]
    assert "บริษัท แอคมี จำกัด" in mail["Subject"] and "อนุมัติ" in mail["Subject"]
    with pytest.raises(review.ReviewError) as exc:  # decided once (409)
        _decide(app, db, item_id, people["op"].id, "reject", "late")
    assert exc.value.status == 409


def test_reject_with_reason_then_resubmit_opens_a_new_item(app, client, db, people, smtp_sink):
    login(client, "applicant")
    _register(client)
    org = _org(db)
    first = _item(db, org.id).id
    _decide(app, db, first, people["op"].id, "reject", "The letter is not signed.")
    assert _org(db).status == "rejected"
    body = mail_text(smtp_sink.to("applicant@example.org")[-1])
    assert "The letter is not signed." in body and f"/register/company/{org.id}" in body
    # Still no console while rejected.
    assert client.get(f"/orgs/{org.id}/admin").status_code == 403
    page = client.get(f"/register/company/{org.id}").get_data(as_text=True)
    assert "The letter is not signed." in page
    fields = {**ADDRESS, "name_th": "บริษัท แอคมี จำกัด", "name_en": "Acme Thailand Co., Ltd."}
    # A new document is required after a rejection.
    resp = _upload(client, f"/register/company/{org.id}", b"", name="", fields=fields)
    assert resp.status_code == 400 and _org(db).status == "rejected"
    resp = _upload(client, f"/register/company/{org.id}", pdf(b"%signed\n"), fields=fields)
    assert resp.status_code == 303
    org = _org(db)
    assert org.status == "pending" and org.name_en == "Acme Thailand Co., Ltd."
    second = _item(db, org.id)
    assert second.id != first and second.status == "open"
    assert len(org_services.org_admins(db, org.id)) == 1
    assert db.scalar(select(func.count()).select_from(OrgDocument)) == 2
    # Nothing to resubmit while it waits.
    resp = _upload(client, f"/register/company/{org.id}", pdf(), fields=fields)
    assert resp.status_code == 409 and _item(db, org.id).id == second.id
    _decide(app, db, second.id, people["op"].id, "approve")
    assert _org(db).status == "active"


def test_more_info_mails_the_question_and_the_answer_reopens_the_item(
    app, client, db, people, smtp_sink
):
    login(client, "applicant")
    _register(client)
    org = _org(db)
    item_id = _item(db, org.id).id
    _decide(app, db, item_id, people["op"].id, "more_info", "Please add the director's ID.")
    assert _org(db).status == "pending" and _item(db, org.id).status == "more_info"
    body = mail_text(smtp_sink.to("applicant@example.org")[-1])
    assert "Please add the director's ID." in body
    fields = {**ADDRESS, "name_th": "บริษัท แอคมี จำกัด", "name_en": "Acme Co., Ltd."}
    resp = _upload(client, f"/register/company/{org.id}", pdf(b"%with id\n"), fields=fields)
    assert resp.status_code == 303
    item = _item(db, org.id)
    assert item.id == item_id and item.status == "open"
    assert (
        db.scalar(
            select(func.count())
            .select_from(ApplicantDocument)
            .where(ApplicantDocument.review_item_id == item_id)
        )
        == 2
    )


def test_registration_posts_are_rate_limited_per_ip_R08(app_factory, people):
    app = app_factory(registration_rate_limit="3 per minute")
    client = app.test_client()
    codes = [_step1(client, "1").status_code for _ in range(4)]
    assert codes[:3] == [400, 400, 400] and codes[3] == 429


def test_one_person_registering_two_companies_gets_two_review_items(client, db, people):
    """review.open_item keys a company item by applicant and organisation: the second
    company is not folded into the first one's item."""
    login(client, "applicant")
    _register(client)
    other = jid("010555600001")
    _register(client, other)
    first, second = _org(db), _org(db, other)
    assert first.id != second.id and second.status == "pending"
    assert _item(db, first.id).id != _item(db, second.id).id
