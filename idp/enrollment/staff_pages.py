"""The staff applicant's own pages: ``/account/application`` shows the state of their
staff application, the operator's reason or question, and takes a corrected document
(MISSION C3; SECURITY.md R-02..R-06, R-08).

:func:`read_upload` is the one way to take the staff document from a request (also
used by the wizard's step 4): the body limit is raised for the route to the file
limit plus the form, anything larger is a 413 before it is read (werkzeug refuses
on Content-Length or while streaming), the file is read at most one byte past the
limit, and the CSRF token is checked after the limit (so Flask-WTF's own parse
cannot read a huge body first).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from idp.account.forms import PostForm
from idp.db import session as db_session
from idp.enrollment import staff
from idp.enrollment.staff_messages import application_messages, status_texts, status_titles
from idp.extensions import csrf
from idp.orgs import documents

bp = Blueprint("staff", __name__)

# The multipart body may exceed the file limit by the form fields and boundaries.
UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 64 * 1024


class UploadRefused(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code, self.status = code, status


def read_upload(field: str = "document") -> tuple[bytes, str, str]:
    """The uploaded file's bytes, name and chosen kind (``staff_card`` | ``signed_form``).
    Raises :class:`UploadRefused`: ``document_too_large`` (413), ``csrf`` (400),
    ``document_missing`` (400)."""
    request.max_content_length = UPLOAD_BODY_LIMIT
    try:
        form = PostForm()
        valid = form.validate_on_submit()
        file = request.files.get(field)
        kind = request.form.get("kind", "staff_card")
    except RequestEntityTooLarge:
        raise UploadRefused("document_too_large", 413) from None
    if not valid:
        raise UploadRefused("csrf", 400)
    if file is None or not file.filename:
        raise UploadRefused("document_missing", 400)
    data = file.read(documents.MAX_BYTES + 1)
    return data, file.filename, kind if kind in staff.DOCUMENT_KINDS else "staff_card"


def _render(errors: list[tuple[str, str]], status: int, message: str = "") -> Any:
    db = db_session()
    app = staff.application_of(db, current_user)
    if app is None:
        abort(404)
    state = app.status
    if app.item is None:
        state = "not_sent"
    elif app.item.status == "more_info":
        state = "more_info"
    return render_template(
        "enrollment/application.html",
        app=app,
        state=state,
        title=status_titles().get(state, ""),
        text=status_texts().get(state, ""),
        errors=errors,
        message=message,
        form=PostForm(formdata=None),
        document_limit_mb=documents.MAX_BYTES // (1024 * 1024),
    ), status


@bp.route("/account/application")
@login_required
def application() -> Any:
    """The person's own application; someone who never applied gets a 404 (R-08)."""
    return _render([], 200, application_messages().get(request.args.get("m", ""), ""))


CSRF_REFUSED = "csrf"


def take_upload(db: Any) -> tuple[list[tuple[str, str]], int] | str | None:
    """The one upload step of step 4 and of the application page: read the checked
    file, submit it, commit. None when it was taken; :data:`CSRF_REFUSED`; or the
    field errors and status to show again (nothing stored)."""
    messages = application_messages()
    try:
        data, filename, kind = read_upload()
        staff.submit_document(db, current_user, data, filename, kind)
    except UploadRefused as exc:
        if exc.code == "csrf":
            return CSRF_REFUSED
        return [("document", messages[exc.code])], exc.status
    except (documents.DocumentError, staff.ApplicationError) as exc:
        db.rollback()
        return [("document", messages.get(exc.code, exc.code))], exc.status
    db.commit()
    return None


@bp.route("/account/application", methods=["POST"])
@csrf.exempt  # checked in read_upload, after the body limit is raised for this route
@login_required
def resubmit() -> Any:
    """A corrected document after a rejection, or the answer to a question."""
    db = db_session()
    if staff.application_of(db, current_user) is None:
        abort(404)
    outcome = take_upload(db)
    if outcome == CSRF_REFUSED:
        return redirect(url_for("staff.application"))
    if outcome is not None:
        return _render(*outcome)
    return redirect(url_for("staff.application", m="sent"))
