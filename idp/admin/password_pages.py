"""Operator console, people: "Require a password change" (issue 11, MISSION B2). The
person must choose a new password at their next sign-in before any client gets a token
(the pipeline's ``password_change`` step). A free-text reason is required; audited as
``op:user:password_change_required``."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_login import current_user

from idp.account.forms import PostForm
from idp.account.password_change import PasswordChangeRefused, require_change
from idp.admin.people import back_to_people
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


@bp.route("/people/<int:user_id>/require-password-change", methods=["POST"])
@operator_required
def require_password_change(user_id: int) -> Any:
    db = db_session()
    if db.get(User, user_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    try:
        require_change(db, user_id, request.form.get("reason", ""), current_user.id)
    except PasswordChangeRefused:
        db.rollback()
        return back_to_people("password_change_reason_missing")
    db.commit()
    return back_to_people("password_change_required")
