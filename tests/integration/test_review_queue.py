"""The operator review queue (issue 10): operators only behind the console's step-up,
oldest first, one decision per item (409), never one's own (403), a reason to reject
or ask, files only as attachments (SECURITY.md R-04, R-05, R-06, R-08, X-06)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.enrollment import pii, review
from idp.enrollment.identity import check_national_id, thai_id_check_digit
from idp.enrollment.verdicts import record as record_verdict
from idp.enrollment.verifiers import Method, Outcome, Verdict
from idp.mfa import services as mfa
from idp.models import AuditEvent, ReviewItem, User
from idp.orgs import services as org_services
from tests.factories import csrf_token, login, make_user
from tests.integration.test_operator_console import _operator

BASE = "110170020345"
NATIONAL_ID = BASE + str(thai_id_check_digit(BASE))
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def app(app_factory, smtp_sink):
    return app_factory(smtp_url=smtp_sink.url)


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    op = make_user(db, "op")
    op.is_operator = True
    factor, secret = mfa.start_totp(db, settings, op, "Phone")
    factor.status = "active"
    somsak = make_user(db, "somsak", name="Somsak Staff")
    somsak.given_name_th, somsak.family_name_th = "สมศักดิ์", "ใจดี"
    somsak.member_type, somsak.membership_status = "staff", "pending"
    for key, value in pii.seal(settings, check_national_id(NATIONAL_ID)).columns().items():
        setattr(somsak, key, value)
    dup = make_user(db, "dup", name="Second Account")
    acme = org_services.create_org(
        db, kind="company", identifier="0105536092641", name_th="บริษัท เอ", status="pending"
    )
    db.flush()
    staff = review.open_item(db, kind=review.STAFF_VERIFICATION, user_id=somsak.id)
    staff.submitted_at -= 100  # the oldest
    doc = review.attach(db, staff, "staff_card", PDF, "../../card.pdf")
    company = review.open_item(db, kind=review.COMPANY_REGISTRATION, org_id=acme.id)
    check = review.open_item(
        db, kind=review.DOCUMENT_CHECK, user_id=dup.id, flags=("document_on_file",)
    )
    own = review.open_item(db, kind=review.STAFF_VERIFICATION, user_id=op.id)
    record_verdict(
        db,
        Verdict(outcome=Outcome.NOT_VERIFIED, method=Method.DIRECTORY, at=1, reason="no_match"),
        user_id=somsak.id,
    )
    db.commit()
    return {
        "op": op,
        "secret": secret,
        "somsak": somsak,
        "dup": dup,
        "staff": staff.id,
        "doc": doc.id,
        "company": company.id,
        "check": check.id,
        "own": own.id,
    }


def _decide(client, item_id, page, **data):
    return client.post(
        f"/operator/reviews/{item_id}/decide", data={**data, "csrf_token": csrf_token(page)}
    )


def test_queue_lists_oldest_first_and_filters_by_kind(client, world):
    page = _operator(client, world, "/operator/reviews")
    order = [page.index(f'id="item-{world[k]}"') for k in ("staff", "company", "check", "own")]
    assert order == sorted(order)
    assert "Company registration" in page and "Identity document already on file" in page
    only = client.get("/operator/reviews?kind=document_check").get_data(as_text=True)
    assert f'id="item-{world["check"]}"' in only and f'id="item-{world["staff"]}"' not in only


def test_item_page_shows_masked_document_verdicts_and_files(client, world):
    page = _operator(client, world, f"/operator/reviews/{world['staff']}")
    assert "สมศักดิ์ ใจดี" in page and "Somsak Staff" in page
    assert NATIONAL_ID not in page and NATIONAL_ID[-1] in page  # X-06: masked
    assert "directory" in page and "no_match" in page
    assert f"/operator/reviews/{world['staff']}/documents/{world['doc']}" in page


def test_revealing_the_number_is_audited_and_only_on_that_page_X06(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['staff']}")
    resp = client.post(
        f"/operator/reviews/{world['staff']}/reveal", data={"csrf_token": csrf_token(page)}
    )
    assert resp.status_code == 200 and NATIONAL_ID in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    shown = db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:review:document_shown")).all()
    assert len(shown) == 1 and shown[0].actor_user_id == world["op"].id
    assert NATIONAL_ID not in str(shown[0].details)
    again = client.get(f"/operator/reviews/{world['staff']}").get_data(as_text=True)
    assert NATIONAL_ID not in again


def test_documents_are_attachments_with_nosniff_and_other_items_404_R04_R08(client, world):
    _operator(client, world, "/operator/reviews")
    resp = client.get(f"/operator/reviews/{world['staff']}/documents/{world['doc']}")
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="applicant-{world["staff"]}-{world["doc"]}.pdf"'
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    # The same file under another item's id, or an unknown item: 404 (R-08).
    assert (
        client.get(f"/operator/reviews/{world['company']}/documents/{world['doc']}").status_code
        == 404
    )
    assert client.get("/operator/reviews/999999").status_code == 404
    assert client.get(f"/operator/reviews/999999/documents/{world['doc']}").status_code == 404


def test_applicant_and_other_people_get_404_on_every_queue_route_R05(client, db, world):
    login(client, "somsak")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    item, doc = world["staff"], world["doc"]
    for method, path in (
        ("GET", "/operator/reviews"),
        ("GET", f"/operator/reviews/{item}"),
        ("GET", f"/operator/reviews/{item}/documents/{doc}"),
        ("POST", f"/operator/reviews/{item}/decide"),
        ("POST", f"/operator/reviews/{item}/reveal"),
    ):
        data = {"csrf_token": token, "decision": "approve"}
        assert client.open(path, method=method, data=data).status_code == 404, path
    assert db.get(ReviewItem, item).status == "open"


def test_approve_is_audited_and_deciding_twice_is_a_409_page_R06(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['staff']}")
    done = _decide(client, world["staff"], page, decision="approve")
    assert done.status_code == 303 and "m=approved" in done.headers["Location"]
    db.expire_all()
    assert db.get(ReviewItem, world["staff"]).status == "approved"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:review:decided")).all()
    assert len(audit) == 1 and audit[0].subject_user_id == world["somsak"].id
    assert audit[0].details["before"] == "open" and audit[0].details["after"] == "approved"
    again = _decide(client, world["staff"], page, decision="reject", reason="late")
    assert again.status_code == 409
    assert "already decided" in again.get_data(as_text=True)
    db.expire_all()
    assert db.get(ReviewItem, world["staff"]).status == "approved"
    assert (
        len(db.scalars(select(AuditEvent).where(AuditEvent.tag == "op:review:decided")).all()) == 1
    )


def test_own_application_is_a_403_page(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['own']}")
    assert "your own application" in page and 'id="decide"' not in page
    resp = _decide(client, world["own"], page, decision="approve")
    assert resp.status_code == 403 and "own application" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(ReviewItem, world["own"]).status == "open"


def test_reject_and_more_info_need_a_reason_kept_after_refusal(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['staff']}")
    resp = _decide(client, world["staff"], page, decision="reject", reason="   ")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="error-summary"' in body and "is-invalid" in body
    assert 'value="reject" checked' in body
    db.expire_all()
    assert db.get(ReviewItem, world["staff"]).status == "open"


def test_more_info_waits_for_the_applicant_and_an_upload_reopens_it(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['staff']}")
    resp = _decide(
        client, world["staff"], page, decision="more_info", reason="Please send the back side"
    )
    assert resp.status_code == 303 and "m=more_info" in resp.headers["Location"]
    db.expire_all()
    item = db.get(ReviewItem, world["staff"])
    assert (item.status, item.reason) == ("more_info", "Please send the back side")
    waiting = client.get("/operator/reviews").get_data(as_text=True)
    assert "waiting for the applicant" in waiting
    review.attach(db, item, "answer", PDF, "back.pdf")
    db.commit()
    assert db.get(ReviewItem, world["staff"]).status == "open"


def test_document_check_reject_disables_the_second_account_and_mails_nothing_R01(
    client, db, world, smtp_sink
):
    page = _operator(client, world, f"/operator/reviews/{world['check']}")
    assert 'value="more_info"' not in page  # a question would tell them the ID is on file
    assert "already on another account" in page
    asked = _decide(client, world["check"], page, decision="more_info", reason="Why?")
    assert asked.status_code == 400
    resp = _decide(client, world["check"], page, decision="reject", reason="same ID as somsak")
    assert resp.status_code == 303
    db.expire_all()
    assert db.get(User, world["dup"].id).is_active is False
    assert smtp_sink.to("dup@example.org") == []


def test_document_check_approve_changes_nothing(client, db, world):
    page = _operator(client, world, f"/operator/reviews/{world['check']}")
    assert _decide(client, world["check"], page, decision="approve").status_code == 303
    db.expire_all()
    assert db.get(User, world["dup"].id).is_active is True
    assert db.get(ReviewItem, world["check"]).status == "approved"


def test_company_item_shows_generic_data_without_a_describer(client, world):
    page = _operator(client, world, f"/operator/reviews/{world['company']}")
    assert "บริษัท เอ" in page and "0105536092641" in page
    assert "No document uploaded yet." in page


def test_decisions_need_csrf_S05(client, db, world):
    _operator(client, world, "/operator/reviews")
    resp = client.post(f"/operator/reviews/{world['staff']}/decide", data={"decision": "approve"})
    assert resp.status_code in (303, 400)
    db.expire_all()
    assert db.get(ReviewItem, world["staff"]).status == "open"
