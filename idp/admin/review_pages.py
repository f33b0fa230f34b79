"""Operator console, the review queue (issue 10): the queue (oldest first, filtered by
kind and status), an item's page (applicant, masked identity document, verifier
results, flags, documents, the decision form), the decision, showing the full document
number (audited) and the applicant's files as attachments. Routes live on the operator
blueprint, behind the same guard (operators only, ``mfa`` step-up); the rules are in
:mod:`idp.admin.reviews`."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from idp.account import service_requests
from idp.account.forms import PostForm
from idp.account.service_request_messages import field_labels
from idp.account.service_request_messages import kind_labels as request_kind_labels
from idp.admin import reviews
from idp.admin.messages import (
    review_flag_labels,
    review_kind_labels,
    review_messages,
    review_status_labels,
)
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.enrollment import review
from idp.enrollment.review import ReviewError
from idp.models import ReviewItem

DONE_MESSAGE = {"approve": "approved", "reject": "rejected", "more_info": "more_info"}


@bp.route("/reviews")
@operator_required
def reviews_queue() -> Any:
    db = db_session()
    kind = request.args.get("kind", "")
    status = request.args.get("status", reviews.WAITING)
    items = reviews.queue(db, kind, status)
    return render_template(
        "admin/reviews.html",
        items=[(i, reviews.view(db, i.id)) for i in items],
        kind=kind if kind in review.KINDS else "",
        status=status if status in (*reviews.STATUSES, "all") else reviews.WAITING,
        kinds=review_kind_labels(),
        statuses=review_status_labels(),
        name_of=reviews.applicant_name,
        message=review_messages().get(request.args.get("m", "")),
    )


def _item_page(
    item_id: int,
    *,
    errors: list[tuple[str, str]] | None = None,
    typed: dict[str, str] | None = None,
    revealed: str | None = None,
    status: int = 200,
) -> Any:
    db = db_session()
    try:
        shown = reviews.view(db, item_id)
    except ReviewError:
        abort(404)
    body = render_template(
        "admin/review.html",
        v=shown,
        name=reviews.applicant_name(shown.user, shown.registration),
        kinds=review_kind_labels(),
        statuses=review_status_labels(),
        flags=review_flag_labels(),
        errors=errors or [],
        typed=typed or {},
        revealed=revealed,
        undecided=shown.item.status in review.UNDECIDED,
        may_ask=shown.item.kind not in (review.DOCUMENT_CHECK, review.SERVICE_REQUEST),
        # issue 11: a service request's kind and details (its section of the page)
        service_request=service_requests.for_item(db, item_id),
        request_kinds=request_kind_labels(),
        request_fields=field_labels(),
        own=shown.item.user_id == current_user.id,
        form=PostForm(),
    )
    resp = current_app.make_response((body, status))
    if revealed is not None:
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/reviews/<int:item_id>")
@operator_required
def review_item(item_id: int) -> Any:
    return _item_page(item_id)


def _refused(item_id: int, code: str, status: int) -> Any:
    """A translated page for 403 (own application) and 409 (decided already)."""
    return (
        render_template(
            "admin/review_refused.html",
            message=review_messages()[code],
            item_id=item_id,
        ),
        status,
    )


@bp.route("/reviews/<int:item_id>/decide", methods=["POST"])
@operator_required
def decide_item(item_id: int) -> Any:
    db = db_session()
    if db.get(ReviewItem, item_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return redirect(url_for("admin.review_item", item_id=item_id), code=303)
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "")[:2000]
    try:
        reviews.decide(
            db, current_app.extensions["idp_settings"], item_id, current_user.id, decision, reason
        )
    except ReviewError as exc:
        db.rollback()
        if exc.status in (403, 409):
            return _refused(item_id, exc.code, exc.status)
        if exc.status == 404:
            abort(404)
        return _item_page(
            item_id,
            errors=[("reason", review_messages()[exc.code])],
            typed={"decision": decision, "reason": reason},
            status=400,
        )
    db.commit()
    return redirect(url_for("admin.reviews_queue", m=DONE_MESSAGE[decision]), code=303)


@bp.route("/reviews/<int:item_id>/reveal", methods=["POST"])
@operator_required
def reveal_document(item_id: int) -> Any:
    """The full number, on this page only, once per click; audited (X-06)."""
    db = db_session()
    if db.get(ReviewItem, item_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return redirect(url_for("admin.review_item", item_id=item_id), code=303)
    try:
        number = reviews.reveal_document(
            db, current_app.extensions["idp_settings"], item_id, current_user.id
        )
    except ReviewError:
        db.rollback()
        abort(404)
    db.commit()
    return _item_page(item_id, revealed=number)


@bp.route("/reviews/<int:item_id>/documents/<int:doc_id>")
@operator_required
def review_document_file(item_id: int, doc_id: int) -> Response:
    try:
        doc = reviews.applicant_document(db_session(), item_id, doc_id)
    except ReviewError:
        abort(404)
    return Response(doc.content, 200, reviews.download_headers(doc))
