"""Operator console: send a person a password-reset code (issue 11; never a password).
The mail's link opens the forgot-password flow the code is bound to
(:func:`idp.account.recovery.send_operator_code`); the route is on the operator blueprint."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request, url_for
from flask_login import current_user

from idp.account import recovery
from idp.account.forms import PostForm
from idp.admin.people import back_to_people
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


@bp.route("/people/<int:user_id>/reset-code", methods=["POST"])
@operator_required
def send_reset_code(user_id: int) -> Any:
    db, settings = db_session(), current_app.extensions["idp_settings"]
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    try:
        recovery.send_operator_code(
            db,
            settings,
            current_user,
            user,
            request.form.get("reason", ""),
            # the issuer, not the request's Host header, names the site in a mail
            lambda ticket: settings.issuer + url_for("account.forgot_resume", ticket=ticket),
        )
    except recovery.ResetError as exc:
        db.rollback()
        return back_to_people(f"reset_{exc.code}")
    return back_to_people("reset_code_sent")
