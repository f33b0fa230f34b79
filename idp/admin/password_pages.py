"""Operator console, people: "Require a password change" (issue 11, MISSION B2). The
person must choose a new password at their next sign-in before any client gets a token
(the pipeline's ``password_change`` step). A free-text reason is required; audited as
``op:user:password_change_required``."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user

from idp.account.forms import PostForm
from idp.account.password_change import PasswordChangeRefused, require_change
from idp.admin.views import bp, operator_required
from idp.db import session as db_session
from idp.models import User


def _back(message: str) -> Any:
    return redirect(url_for("admin.people", q=request.args.get("q"), m=message), code=303)


@bp.route("/people/<int:user_id>/require-password-change", methods=["POST"])
@operator_required
def require_password_change(user_id: int) -> Any:
    db = db_session()
    if db.get(User, user_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return _back("")
    try:
        require_change(db, user_id, request.form.get("reason", ""), current_user.id)
    except PasswordChangeRefused:
        db.rollback()
        return _back("password_change_reason_missing")
    db.commit()
    return _back("password_change_required")
