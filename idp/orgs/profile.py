"""The organisation's own profile in the org admin console: head-office and branch
addresses (MISSION A9), contact data, and the power-of-attorney document with its
replacement (A1). Routes live on the console blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from idp.account.forms import PostForm
from idp.audit import AuditTag, record
from idp.db import session as db_session
from idp.extensions import csrf
from idp.models import Organization, OrgDocument
from idp.orgs import documents
from idp.orgs.addresses import ADDRESS_FIELDS, CONTACT_FIELDS, check_profile
from idp.orgs.console import _back, bp, org_admin
from idp.orgs.messages import upload_messages

# The whole multipart body may exceed the file limit by the form fields and boundaries;
# anything bigger is refused with 413 before it is read.
UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 64 * 1024


def _render(
    org: Organization,
    form: PostForm,
    errors: list[tuple[str, str]],
    status: int,
    typed: dict[str, Any] | None = None,
) -> Any:
    """The profile page; after a refused save it shows what was typed, not the stored
    values, so nothing the admin entered is lost."""
    stored = {"head_office": org.head_office, "branches": org.branches, "contact": org.contact}
    shown = typed or stored
    return render_template(
        "orgs/profile.html",
        org=org,
        form=form,
        errors=errors,
        shown=shown,
        fields=ADDRESS_FIELDS,
        contact_fields=CONTACT_FIELDS,
        documents=documents.history(db_session(), org.id),
        document_limit_mb=documents.MAX_BYTES // (1024 * 1024),
    ), status


@bp.route("/profile", methods=["GET", "POST"])
@org_admin
def profile(org: Organization) -> Any:
    form = PostForm()
    if request.method != "POST" or not form.validate_on_submit():
        return _render(org, form, [], 200)
    head = {k: request.form.get(k, "").strip()[:300] for k in ADDRESS_FIELDS}
    contact = {k: request.form.get(k, "").strip()[:254] for k in CONTACT_FIELDS}
    branches = [
        line.strip()[:300] for line in request.form.get("branches", "").splitlines() if line.strip()
    ][:50]
    after = {"head_office": head, "branches": branches, "contact": contact}
    errors = check_profile(head, contact)
    if errors:
        return _render(org, form, errors, 400, typed=after)
    before = {"head_office": org.head_office, "branches": org.branches, "contact": org.contact}
    if before != after:
        org.head_office, org.branches, org.contact = head, branches, contact
        record(
            db_session(),
            AuditTag.ORG_PROFILE_CHANGED,
            actor=current_user.id,
            subject=None,
            org=org.id,
            before=before,
            after=after,
        )
        db_session().commit()
    return _back(org, "saved")


@bp.route("/profile/document", methods=["POST"])
@csrf.exempt  # checked below, after the body limit is raised for this one route
@org_admin
def upload_document(org: Organization) -> Any:
    """Upload (or replace) the power-of-attorney document; an operator then reviews it."""
    request.max_content_length = UPLOAD_BODY_LIMIT
    try:
        form = PostForm()
        valid = form.validate_on_submit()
        file = request.files.get("document")
    except RequestEntityTooLarge:
        too_large = [("document", upload_messages()["document_too_large"])]
        return _render(org, PostForm(formdata=None), too_large, 413)
    if not valid:
        return _back(org)
    data = file.read(documents.MAX_BYTES + 1) if file else b""
    try:
        documents.upload(db_session(), org.id, data, file.filename if file else "", current_user.id)
    except documents.DocumentError as exc:
        db_session().rollback()
        return _render(org, form, [("document", upload_messages()[exc.code])], exc.status)
    db_session().commit()
    return _back(org, "document_uploaded")


@bp.route("/profile/document/<int:doc_id>")
@org_admin
def download_document(org: Organization, doc_id: int) -> Response:
    doc = db_session().scalar(  # another organisation's document is a 404 (E-01)
        select(OrgDocument).where(OrgDocument.id == doc_id, OrgDocument.org_id == org.id)
    )
    if doc is None:
        abort(404)
    return Response(doc.content, 200, documents.download_headers(doc, org.identifier))
