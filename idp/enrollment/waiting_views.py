"""The wizard's step 4, "waiting for approval" (``enrollment.waiting``): a staff member
whom no directory found sends a staff ID card or a signed form (one PDF/PNG/JPEG,
<= 10 MB, checked by content: SECURITY.md R-02, R-03), which makes their membership
pending and puts it before an operator; the page then says what happens next. Routes
on the ``enrollment`` blueprint (:mod:`idp.enrollment.views`)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from idp.db import session as db_session
from idp.enrollment import registration, staff, wizard
from idp.enrollment.details_views import DONE_KEY
from idp.enrollment.staff_messages import status_texts
from idp.enrollment.staff_pages import CSRF_REFUSED, take_upload
from idp.enrollment.views import bp, settings, step_labels
from idp.extensions import csrf
from idp.models import Registration
from idp.orgs import documents


def _page(errors: list[tuple[str, str]], status: int) -> Any:
    db = db_session()
    reg = db.scalar(select(Registration).where(Registration.user_id == current_user.id))
    app = staff.application_of(db, current_user)
    done = session.get(DONE_KEY)
    return render_template(
        "enrollment/waiting.html",
        app=app,
        submitted=app is not None and app.item is not None,
        text=status_texts()["pending"],
        errors=errors,
        document_limit_mb=documents.MAX_BYTES // (1024 * 1024),
        second_factor=isinstance(done, dict) and bool(done.get("second_factor")),
        steps=_steps(reg),
    ), status


def _steps(reg: Registration | None) -> list[tuple[int, str, str, None, bool]]:
    """The numbered step list with step 4 current; the registration is finished, so
    the earlier steps are no longer links."""
    plan = registration.plan(db_session(), settings(), reg) if reg else wizard.Plan(True)
    labels = step_labels()
    return [
        (number, name, labels[name], None, name == wizard.WAITING)
        for number, name in enumerate(wizard.steps(plan), start=1)
    ]


@bp.route("/register/waiting")
@login_required
def waiting() -> Any:
    if current_user.member_type != "staff":
        return redirect(url_for("account.home"))
    return _page([], 200)


@bp.route("/register/waiting", methods=["POST"])
@csrf.exempt  # checked in read_upload, after the body limit is raised for this route
@login_required  # not @limited: its key reads the form before the body limit is raised
def waiting_upload() -> Any:
    outcome = take_upload(db_session())
    if outcome == CSRF_REFUSED:
        return redirect(url_for("enrollment.waiting"))
    if outcome is not None:
        return _page(*outcome)
    return redirect(url_for("enrollment.waiting"), code=303)
