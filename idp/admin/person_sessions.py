"""Operator console, people: "End all sessions" of a person (issue 11), with a
required reason, audited (op:user:sessions_ended); their browser sessions end at once
(back-channel logout to their clients) and so do their refresh tokens. On the operator
blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user

from idp.account import device_sessions
from idp.account.forms import PostForm
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


def _back(message: str) -> Any:
    return redirect(url_for("admin.people", q=request.args.get("q"), m=message), code=303)


@bp.route("/people/<int:user_id>/sessions/end", methods=["POST"])
@operator_required
def end_person_sessions(user_id: int) -> Any:
    db = db_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return _back("")
    try:
        device_sessions.end_by_operator(
            db, user, request.form.get("reason", ""), actor=current_user.id
        )
    except device_sessions.ReasonMissing:
        db.rollback()
        return _back("sessions_reason_missing")
    db.commit()
    return _back("sessions_ended")
