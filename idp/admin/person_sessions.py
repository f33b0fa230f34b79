"""Operator console, people: "End all sessions" of a person (issue 11), with a
required reason, audited (op:user:sessions_ended); their browser sessions end at once
(back-channel logout to their clients) and so do their refresh tokens. On the operator
blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_login import current_user

from idp.account import device_sessions
from idp.account.forms import PostForm
from idp.admin.people import back_to_people
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


@bp.route("/people/<int:user_id>/sessions/end", methods=["POST"])
@operator_required
def end_person_sessions(user_id: int) -> Any:
    db = db_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    try:
        device_sessions.end_by_operator(
            db, user, request.form.get("reason", ""), actor=current_user.id
        )
    except device_sessions.ReasonMissing:
        db.rollback()
        return back_to_people("sessions_reason_missing")
    db.commit()
    return back_to_people("sessions_ended")
