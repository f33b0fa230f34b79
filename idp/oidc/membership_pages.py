"""The sign-in pages of issue 10: the personal-data notice to accept (pipeline step
``terms``) and what the person's membership lets them do (step ``membership``).

Both belong to a sign-in flow (``?flow=``); "No" on the notice and "Back to" on the
membership page end the sign-in with ``access_denied`` to the relying party's verified
redirect URI (RFC 6749 4.1.2.1)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from idp.db import now
from idp.db import session as db_session
from idp.enrollment import notices
from idp.enrollment.verdicts import state_of
from idp.extensions import page_locale
from idp.models import ReviewItem
from idp.oidc import flows
from idp.oidc.blueprint import bp
from idp.oidc.clients import load_client
from idp.oidc.errors import error_page, error_redirect_url, redirect_error
from idp.oidc.interaction import url_for_next
from idp.oidc.pipeline import Next, membership_reason


class NoticeForm(FlaskForm):
    pass


def _flow_and_client() -> tuple[flows.Flow, Any] | Any:
    flow = flows.load(request.values.get("flow"))
    if flow is None or not flow.client_id:
        return error_page("flow_expired", None, 400)
    if not current_user.is_authenticated:
        return redirect(url_for_next(Next.LOGIN, flow.id))
    client = load_client(db_session(), flow.client_id)
    if client is None:
        abort(400)
    return flow, client


def _redirect_uri(flow: flows.Flow, client: Any) -> str:
    return flow.param("redirect_uri") or client.get_default_redirect_uri()


@bp.route("/signin/notice", methods=["GET", "POST"])
def notice() -> Any:
    """The newest personal-data notice, in the page's language, with Accept and No."""
    found = _flow_and_client()
    if not isinstance(found, tuple):
        return found
    flow, client = found
    db = db_session()
    current = notices.current(db)
    if current is None or (current_user.notice_version or 0) >= current.version:
        return redirect(flow.continue_url, code=303)  # nothing (more) to accept
    form = NoticeForm()
    if form.validate_on_submit():
        if request.form.get("decision") != "accept":
            flows.finish(flow.id)
            return redirect_error(
                _redirect_uri(flow, client),
                "access_denied",
                "The end-user did not accept the personal-data notice.",
                flow.param("state"),
            )
        if str(current.version) != request.form.get("version"):
            return redirect(url_for("oidc.notice", flow=flow.id), code=303)  # a newer one
        notices.accept(
            db,
            current_user._get_current_object(),
            current.version,
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
            now=now(),
        )
        db.commit()
        return redirect(flow.continue_url, code=303)
    return render_template(
        "oidc/notice.html",
        form=form,
        client=client,
        flow_id=flow.id,
        notice=current,
        text=notices.text_in(current, page_locale()),
        updated=current_user.notice_version is not None,
    )


def _rejection_reason(user_id: int) -> str:
    item = db_session().scalar(
        select(ReviewItem)
        .where(ReviewItem.user_id == user_id, ReviewItem.status == "rejected")
        .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
    )
    return item.reason if item is not None else ""


@bp.route("/signin/membership")
def membership() -> Any:
    """Why the membership stops this sign-in, and what the person can do about it."""
    found = _flow_and_client()
    if not isinstance(found, tuple):
        return found
    flow, client = found
    state = state_of(current_user._get_current_object())
    reason = membership_reason(state, client.row.required_membership, now())
    if reason is None:
        return redirect(flow.continue_url, code=303)  # verified meanwhile: go on
    back = error_redirect_url(
        _redirect_uri(flow, client),
        "access_denied",
        "The end-user's membership does not allow this client.",
        flow.param("state"),
    )
    # Pending: an operator decides, nothing to do; otherwise verifying (or, for a
    # rejected staff member, a corrected document) changes the answer.
    verify_url = None
    if reason != "membership_pending":
        verify_url = url_for("account.verify", next=flow.continue_url)
    return render_template(
        "oidc/membership.html",
        client=client,
        reason=reason,
        state=state,
        required=client.row.required_membership,
        rejection=_rejection_reason(current_user.id) if reason == "membership_rejected" else "",
        verify_url=verify_url,
        back_url=back,
    ), 403
