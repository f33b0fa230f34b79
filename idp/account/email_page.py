"""The account page for changing one's own email (routes on the account blueprint)."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from idp.account import email_change
from idp.account.auth_state import recently_authenticated
from idp.account.forms import PostForm
from idp.account.messages import email_messages
from idp.account.views import bp
from idp.db import session as db_session


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
def change_email() -> Any:
    if not recently_authenticated():  # M-11: a password within the last 10 minutes
        return redirect(url_for("account.login", next="email"), code=303)
    form = PostForm()
    error = None
    if request.method == "POST" and form.validate_on_submit():
        db = db_session()
        settings = current_app.extensions["idp_settings"]
        try:
            if request.form.get("step") == "confirm":
                old = email_change.confirm(db, settings, current_user, request.form.get("code", ""))
                db.commit()
                email_change.tell_old_address(settings, current_user, old)
                return redirect(url_for("account.home", m="email_changed"), code=303)
            email_change.start(db, settings, current_user, request.form.get("email", ""))
        except email_change.EmailChangeError as exc:
            db.rollback()
            error = email_messages()[exc.code]
    pending = email_change.pending(
        db_session(), current_app.extensions["idp_settings"], current_user
    )
    return render_template("account/email.html", form=form, error=error, pending=pending), (
        200 if error is None else 400
    )
