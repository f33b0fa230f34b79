"""The sessions section of /account (issue 11): sign out one other device, or all
others. POST with CSRF and a confirmation page (idp/confirm.py); the service is
:mod:`idp.account.device_sessions`. A sid that is not one of the person's own other
sessions is a 404 and ends nothing."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from idp.account import device_sessions
from idp.account.forms import PostForm
from idp.account.session_messages import end_one_confirmation, end_others_confirmation
from idp.account.views import bp
from idp.confirm import confirmation_page, confirmed
from idp.db import session as db_session


def _back(message: str) -> Any:
    return redirect(url_for("account.home", m=message, _anchor="h-sessions"), code=303)


def _label(row: device_sessions.SessionRow) -> str:
    """As the list names it (account/_sessions.html)."""
    d = row.device
    if d.browser and d.system:
        return _("%(browser)s on %(system)s", browser=d.browser, system=d.system)
    return d.browser or d.system or _("Unknown device")


@bp.route("/account/sessions/<sid>/end", methods=["POST"])
@login_required
def end_session(sid: str) -> Any:
    db = db_session()
    current = device_sessions.current_sid()
    row = next(
        (
            r
            for r in device_sessions.list_sessions(db, current_user, current)
            if r.sid == sid and not r.is_current
        ),
        None,
    )
    if row is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return _back("")
    if not confirmed():
        return confirmation_page(end_one_confirmation(_label(row)), url_for("account.home"))
    device_sessions.end_own(db, current_user, sids=[sid], current=current)
    db.commit()
    return _back("session_ended")


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions() -> Any:
    db = db_session()
    current = device_sessions.current_sid()
    if not PostForm().validate_on_submit():
        return _back("")
    others = [
        r for r in device_sessions.list_sessions(db, current_user, current) if not r.is_current
    ]
    if not others:
        return _back("")
    if not confirmed():
        return confirmation_page(end_others_confirmation(len(others)), url_for("account.home"))
    device_sessions.end_own(db, current_user, sids=None, current=current)
    db.commit()
    return _back("sessions_ended")
