"""Power-of-attorney upload, replacement and review (MISSION A1; SECURITY.md R-02..R-04,
E-01): through the org admin console and the operator console."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from idp.mfa import services as mfa
from idp.models import AuditEvent, OrgDocument
from idp.orgs import services
from idp.orgs.documents import MAX_BYTES
from tests.factories import csrf_token, login, make_user
from tests.otp import oathtool_code
from tests.unit.orgs.test_documents import pdf


@pytest.fixture
def world(app, db):
    settings = app.extensions["idp_settings"]
    boss, ben, op = make_user(db, "boss"), make_user(db, "ben"), make_user(db, "op")
    op.is_operator = True
    secrets = {}
    for user in (boss, ben, op):
        factor, secrets[user.username] = mfa.start_totp(db, settings, user, "Phone")
        factor.status = "active"
    a = services.create_org(db, kind="company", identifier="0105536092641", name_th="A")
    b = services.create_org(db, kind="agency", identifier="MOC-01", name_th="B")
    services.add_member(db, a.id, boss, role="admin")
    services.add_member(db, b.id, ben, role="admin")
    db.commit()
    return {"a": a, "b": b, "secrets": secrets}


def _enter(client, world, username, path):
    """Sign in and pass a console's TOTP step-up; returns the page at ``path``."""
    client.set_cookie("idp_lang", "en", domain="localhost")
    login(client, username)
    challenge = client.get(path).headers["Location"]
    page = client.get(challenge).get_data(as_text=True)
    client.post(
        challenge,
        data={
            "method": "totp",
            "code": oathtool_code(world["secrets"][username]),
            "csrf_token": csrf_token(page),
        },
    )
    return client.get(path).get_data(as_text=True)


def _upload(client, org_id, page, data: bytes, name="poa.pdf", token=True):
    """POST a multipart body built here in memory (Werkzeug's test builder would spool a
    large one to a temporary file that it never closes when the server refuses it)."""
    fields = b""
    if token:
        fields = (
            b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            + csrf_token(page).encode()
            + b"\r\n"
        )
    body = (
        fields
        + b'--B\r\nContent-Disposition: form-data; name="document"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n--B--\r\n"
    )
    return client.post(
        f"/orgs/{org_id}/admin/profile/document",
        data=body,
        content_type="multipart/form-data; boundary=B",
    )


def test_upload_replace_and_operator_review_A1(app, client, db, world):
    org_id = world["a"].id
    page = _enter(client, world, "boss", f"/orgs/{org_id}/admin/profile")
    first = _upload(client, org_id, page, pdf(), "../../letter\u202e.pdf")
    assert first.status_code == 303 and "m=document_uploaded" in first.headers["Location"]
    second_bytes = pdf(b"1 0 obj << /Title (new director) >> endobj\n")
    _upload(client, org_id, page, second_bytes, "new.pdf")
    docs = db.scalars(select(OrgDocument).order_by(OrgDocument.id)).all()
    assert len(docs) == 2 and docs[0].replaced_at is not None and docs[1].replaced_at is None
    assert docs[0].original_name == "letter.pdf"  # no path, no bidi override
    assert docs[1].sha256 == hashlib.sha256(second_bytes).hexdigest()
    events = db.scalars(select(AuditEvent).where(AuditEvent.tag == "org:document:uploaded")).all()
    assert [e.details["before"] for e in events] == [None, docs[0].id]

    own = client.get(f"/orgs/{org_id}/admin/profile/document/{docs[1].id}")
    assert own.status_code == 200 and own.data == second_bytes
    assert own.headers["Content-Disposition"] == (
        f'attachment; filename="poa-0105536092641-{docs[1].id}.pdf"'
    )
    assert own.headers["X-Content-Type-Options"] == "nosniff"

    operator = app.test_client()
    op_page = _enter(operator, world, "op", f"/operator/orgs/{org_id}")
    assert "new.pdf" in op_page and "not reviewed yet" in op_page
    assert operator.get(f"/operator/orgs/{org_id}/documents/{docs[0].id}").data == pdf()
    reviewed = operator.post(
        f"/operator/orgs/{org_id}/documents/{docs[1].id}/review",
        data={"verdict": "accepted", "csrf_token": csrf_token(op_page)},
    )
    assert reviewed.status_code == 303
    old = operator.post(
        f"/operator/orgs/{org_id}/documents/{docs[0].id}/review",
        data={"verdict": "accepted", "csrf_token": csrf_token(op_page)},
    )
    assert old.status_code == 404  # only the current document is reviewed
    db.expire_all()
    assert db.get(OrgDocument, docs[1].id).review == "accepted"
    shown = client.get(f"/orgs/{org_id}/admin/profile").get_data(as_text=True)
    assert "accepted" in shown


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"MZ\x90\x00" + b"\0" * 64, 400, "Only PDF, PNG and JPEG"),
        (b"<svg><script>alert(1)</script></svg>", 400, "Only PDF, PNG and JPEG"),
        (pdf(b"<< /S /JavaScript /JS (x) >>\n"), 400, "contains scripts"),
        (b"", 400, "was empty"),
        (b"%PDF-" + b"x" * (MAX_BYTES - 4), 413, "larger than 10 MB"),  # limit + 1 byte
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored_R02_R03(
    client, db, world, data, status, message
):
    org_id = world["a"].id
    page = _enter(client, world, "boss", f"/orgs/{org_id}/admin/profile")
    resp = _upload(client, org_id, page, data, "scan.jpg")
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert db.scalars(select(OrgDocument)).all() == []
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:document:uploaded")) is None


def test_body_far_over_the_limit_is_refused_before_it_is_read_R03(client, db, world):
    org_id = world["a"].id
    page = _enter(client, world, "boss", f"/orgs/{org_id}/admin/profile")
    resp = _upload(client, org_id, page, b"%PDF-" + b"x" * (MAX_BYTES + 200_000))
    assert resp.status_code == 413
    assert db.scalars(select(OrgDocument)).all() == []


def test_upload_needs_csrf_S05(client, db, world):
    org_id = world["a"].id
    page = _enter(client, world, "boss", f"/orgs/{org_id}/admin/profile")
    resp = _upload(client, org_id, page, pdf(), token=False)
    assert resp.status_code in (303, 400)
    assert db.scalars(select(OrgDocument)).all() == []


def test_other_organisations_documents_are_404_E01(app, client, db, world):
    b_admin = app.test_client()
    page = _enter(b_admin, world, "ben", f"/orgs/{world['b'].id}/admin/profile")
    _upload(b_admin, world["b"].id, page, pdf())
    doc = db.scalar(select(OrgDocument))
    page = _enter(client, world, "boss", f"/orgs/{world['a'].id}/admin/profile")
    assert client.get(f"/orgs/{world['a'].id}/admin/profile/document/{doc.id}").status_code == 404
    assert client.get(f"/orgs/{world['b'].id}/admin/profile/document/{doc.id}").status_code == 404
    assert _upload(client, world["b"].id, page, pdf()).status_code == 404
    assert len(db.scalars(select(OrgDocument)).all()) == 1


def test_contact_data_is_validated_and_audited(client, db, world):
    org_id = world["a"].id
    page = _enter(client, world, "boss", f"/orgs/{org_id}/admin/profile")
    form = {
        "csrf_token": csrf_token(page),
        "contact_name": "คุณสมชาย",
        "contact_email": "not-an-email",
        "contact_phone": "02-123-4567",
        "website": "https://example.co.th",
        "postcode": "10110",
    }
    bad = client.post(f"/orgs/{org_id}/admin/profile", data=form)
    assert bad.status_code == 400 and "not valid" in bad.get_data(as_text=True)
    bad_site = client.post(
        f"/orgs/{org_id}/admin/profile",
        data={**form, "contact_email": "info@example.co.th", "website": "javascript:alert(1)"},
    )
    assert bad_site.status_code == 400
    ok = client.post(
        f"/orgs/{org_id}/admin/profile", data={**form, "contact_email": "info@example.co.th"}
    )
    assert ok.status_code == 303
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "org:profile:changed"))
    assert event.details["after"]["contact"]["contact_email"] == "info@example.co.th"
    assert event.details["before"]["contact"] == {}
