"""Operator console, people: find an account, see its organisations, disable or enable
it (with a reason; the person is told) and lift a lockout. Routes live on the operator
blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from idp.account.forms import PostForm
from idp.account.identifiers import email_key, username_key
from idp.admin import accounts
from idp.admin.messages import people_messages, reason_labels
from idp.admin.views import bp, operator_required
from idp.db import now
from idp.db import session as db_session
from idp.mfa.services import notify
from idp.models import Membership, Organization, User


def back_to_people(message: str) -> Any:
    """The people page again, with its search and ``message`` (every person action)."""
    return redirect(url_for("admin.people", q=request.args.get("q"), m=message), code=303)


@bp.route("/people")
@operator_required
def people() -> Any:
    db = db_session()
    text = request.args.get("q", "").strip()[:254]
    users: list[User] = []
    if text:
        users = list(
            db.scalars(
                select(User)
                .where(
                    or_(
                        User.username_key == username_key(text),
                        User.email_key == email_key(text),
                        User.sub == text,
                    )
                )
                .limit(20)
            )
        )
    orgs = {
        u.id: db.execute(
            select(Organization, Membership.role)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == u.id)
        ).all()
        for u in users
    }
    return render_template(
        "admin/people.html",
        q=text,
        users=users,
        orgs=orgs,
        now=now(),
        reasons=reason_labels(),
        form=PostForm(),
        message=people_messages().get(request.args.get("m", "")),
    )


@bp.route("/people/<int:user_id>/active", methods=["POST"])
@operator_required
def set_active(user_id: int) -> Any:
    db = db_session()
    if db.get(User, user_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    active = request.form.get("action") == "enable"
    try:
        user = accounts.set_active(
            db, user_id, active, request.form.get("reason", ""), current_user.id
        )
    except accounts.AccountChangeRefused as exc:
        db.rollback()
        return back_to_people(exc.code)
    db.commit()
    notify(current_app.extensions["idp_settings"], user, "account_status", active=active)
    return back_to_people("enabled" if active else "disabled")


@bp.route("/people/<int:user_id>/unlock", methods=["POST"])
@operator_required
def unlock(user_id: int) -> Any:
    db = db_session()
    if db.get(User, user_id) is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    accounts.unlock(db, user_id, current_user.id, current_app.extensions["idp_settings"].secret_key)
    db.commit()
    return back_to_people("unlocked")
