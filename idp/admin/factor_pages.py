"""Operator console, people: "reset second factors" (issue 11, MISSION A8). Every
second factor and recovery code of the person is revoked and their sessions end, so
the next sign-in that needs a second factor asks them to enrol one; a reason is
required and audited (``op:user:factors_reset``); the person is mailed. Routes on the
operator blueprint, behind the same guard; the rule is
:func:`idp.account.service_requests.reset_by_operator`."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request
from flask_login import current_user

from idp.account import service_requests as sr
from idp.account.forms import PostForm
from idp.admin.people import back_to_people
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


@bp.route("/people/<int:user_id>/factors/reset", methods=["POST"])
@operator_required
def reset_factors(user_id: int) -> Any:
    db = db_session()
    if db.get(User, user_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    try:
        user = sr.reset_by_operator(db, user_id, current_user.id, request.form.get("reason", ""))
    except sr.RequestError as exc:
        db.rollback()
        return back_to_people(exc.code)
    db.commit()
    sr.tell_factors_reset(current_app.extensions["idp_settings"], user)
    return back_to_people("factors_reset")
