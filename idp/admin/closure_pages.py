"""Operator console, people: close an account (issue 11, PDPA s.33), asked for by the
person or not, with a required reason and a confirmation page (it cannot be undone).
The account is disabled at once; its personal data is erased by ``idp jobs run``
after IDP_CLOSED_ACCOUNT_RETENTION_DAYS (:mod:`idp.account.data_rights`)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from idp.account import data_rights
from idp.account.forms import PostForm
from idp.admin.people import back_to_people
from idp.admin.views import bp, operator_required
from idp.confirm import Confirmation, confirmation_page, confirmed
from idp.db import now
from idp.db import session as db_session
from idp.mfa.services import notify
from idp.models import User

MESSAGE_OF = {
    "reason_missing": "closure_reason_missing",
    "already_closed": "already_closed",
    "self": "self",
}


@bp.route("/people/<int:user_id>/close", methods=["POST"])
@operator_required
def close_account(user_id: int) -> Any:
    db = db_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return back_to_people("")
    reason = request.form.get("reason", "")
    if not " ".join(reason.split()):
        return back_to_people("closure_reason_missing")
    if not confirmed():
        days = current_app.extensions["idp_settings"].closed_account_retention_days
        text = Confirmation(
            title=_("Close the account %(username)s?", username=user.username),
            question=_(
                "The account is disabled at once: its sessions and tokens end and it can "
                "never be enabled again."
            ),
            details=(
                _(
                    "Its personal data is erased %(days)d days after closing; the audit trail "
                    "keeps only its pseudonymous identifier.",
                    days=days,
                ),
                _("Reason: %(reason)s", reason=reason),
            ),
            confirm_label=_("Yes, close the account"),
        )
        return confirmation_page(text, url_for("admin.people", q=request.args.get("q")))
    try:
        data_rights.close_account(db, user_id, reason, current_user.id, now())
    except data_rights.ClosureRefused as exc:
        db.rollback()
        return back_to_people(MESSAGE_OF[exc.code])
    db.commit()
    settings = current_app.extensions["idp_settings"]
    notify(
        settings,
        user,
        "account_closure",
        stage="closed",
        when=user.closed_at,
        days=settings.closed_account_retention_days,
    )
    return back_to_people("closed")
