"""The person's service-request pages (routes on the account blueprint): the form
(``/account/requests/new?kind=...``), a request's page (details, state, what was done;
for an approved email change, the code sent to the new address), and the code and
resend buttons. The rules are in :mod:`idp.account.service_requests`.

Sign-in: /account needs the password only (no second factor: ``login_required``), so a
person who lost their phone, with a second factor required by some client, still
reaches /account and files from there (decision, README "Service requests").

The upload is read as on the staff application page: the body limit is raised for the
form route to the file limit plus the form, a larger body is a 413 page before it is
read, and the CSRF token is checked after the limit is set."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from idp.account import service_requests as sr
from idp.account.forms import PostForm
from idp.account.service_request_messages import (
    field_labels,
    kind_hints,
    kind_labels,
    request_errors,
    result_labels,
    status_labels,
)
from idp.account.views import bp
from idp.db import session as db_session
from idp.extensions import csrf
from idp.models import ReviewItem
from idp.orgs import documents
from idp.orgs.messages import upload_messages

UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 64 * 1024


@bp.record_once
def _mail_labels(state: Any) -> None:
    """The result mail names the kind and what was done in the recipient's language."""
    state.app.jinja_env.globals["service_request_kind_labels"] = kind_labels
    state.app.jinja_env.globals["service_request_result_labels"] = result_labels


def _messages() -> dict[str, str]:
    return {**upload_messages(), **request_errors()}


def _form_page(kind: str, typed: dict[str, str], errors: list[tuple[str, str]], status: int):
    db = db_session()
    messages = _messages()
    shown = [(field or None, messages.get(code, code)) for field, code in errors]
    return render_template(
        "account/service_request_form.html",
        kind=kind,
        kinds=kind_labels(),
        hints=kind_hints(),
        labels=field_labels(),
        typed=typed,
        errors=shown,
        error_of={field: messages.get(code, code) for field, code in errors if field},
        limits=sr.FIELDS,
        orgs=sr.my_orgs(db, current_user.id) if kind == "holder_change" else [],
        document_limit_mb=documents.MAX_BYTES // (1024 * 1024),
        form=PostForm(formdata=None),
    ), status


def _read_form() -> tuple[bool, dict[str, str], tuple[bytes, str] | None]:
    """(CSRF valid, the fields, the file or None); RequestEntityTooLarge for a body
    over the limit."""
    request.max_content_length = UPLOAD_BODY_LIMIT
    valid = PostForm().validate_on_submit()
    fields = {k: v for k, v in request.form.items() if k != "csrf_token"}
    file = request.files.get("document")
    document = None
    if file is not None and file.filename:
        document = (file.read(documents.MAX_BYTES + 1), file.filename)
    return valid, fields, document


@bp.route("/account/requests/new", methods=["GET", "POST"])
@csrf.exempt  # checked in _read_form, after the body limit is raised for this route
@login_required
def new_service_request() -> Any:
    kind = request.args.get("kind", "")
    if kind not in sr.KINDS:
        return redirect(url_for("account.home", _anchor="h-requests"), code=303)
    if request.method == "GET":
        return _form_page(kind, sr.prefill(current_user), [], 200)
    try:
        valid, typed, document = _read_form()
    except RequestEntityTooLarge:
        return _form_page(kind, {}, [("document", "document_too_large")], 413)
    if not valid:
        return redirect(url_for("account.new_service_request", kind=kind), code=303)
    db = db_session()
    try:
        req = sr.file(db, current_user, kind, typed, document)
    except sr.RequestError as exc:
        db.rollback()
        return _form_page(kind, typed, exc.errors, exc.status)
    except documents.DocumentError as exc:
        db.rollback()
        return _form_page(kind, typed, [("document", exc.code)], exc.status)
    db.commit()
    return redirect(url_for("account.service_request", request_id=req.id, m="filed"), code=303)


def _request_page(request_id: int, error: str = "", status: int = 200, message: str = ""):
    db = db_session()
    req = sr.own_request(db, current_user.id, request_id)
    if req is None:
        abort(404)  # another person's request is not found
    settings = current_app.extensions["idp_settings"]
    awaiting = sr.awaits_code(req)
    item = db.get(ReviewItem, req.review_item_id) if req.review_item_id else None
    return render_template(
        "account/service_request.html",
        req=req,
        org=sr.org_of(db, req),
        kinds=kind_labels(),
        statuses=status_labels(),
        results=result_labels(),
        labels=field_labels(),
        fields=[*sr.FIELDS, "new_email", "new_holder_email"],
        reason=item.reason if item is not None and req.status == "rejected" else "",
        awaiting=awaiting,
        code_live=awaiting and sr.code_pending(db, settings, req),
        error=error,
        message=message,
        form=PostForm(formdata=None),
    ), status


PAGE_MESSAGES = {"filed", "sent", "changed"}


@bp.route("/account/requests/<int:request_id>")
@login_required
def service_request(request_id: int) -> Any:
    m = request.args.get("m", "")
    return _request_page(request_id, message=m if m in PAGE_MESSAGES else "")


@bp.route("/account/requests/<int:request_id>/email-code", methods=["POST"])
@login_required
def service_request_code(request_id: int) -> Any:
    """Enter the code sent to the new address (an approved email change)."""
    db = db_session()
    req = sr.own_request(db, current_user.id, request_id)
    if req is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return redirect(url_for("account.service_request", request_id=request_id), code=303)
    settings = current_app.extensions["idp_settings"]
    try:
        if request.form.get("step") == "resend":
            sr.resend_code(db, settings, current_user, req)
            return redirect(
                url_for("account.service_request", request_id=request_id, m="sent"), code=303
            )
        old = sr.confirm_email(db, settings, current_user, req, request.form.get("code", ""))
    except sr.RequestError as exc:
        db.rollback()
        return _request_page(request_id, request_errors()[exc.code], exc.status)
    db.commit()
    sr.tell_old_address(settings, current_user, old)
    return redirect(
        url_for("account.service_request", request_id=request_id, m="changed"), code=303
    )
