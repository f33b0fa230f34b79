"""The person's data rights on /account (routes on the account blueprint): the page
about the download, the download itself (``/account/data.json``) and the request to
close the account. Each needs a password typed within the last 10 minutes
(``recently_authenticated``, as /account/email): whoever finds a signed-in browser
must not walk away with the file or close the account."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from idp.account import data_rights
from idp.account.auth_state import recently_authenticated
from idp.account.forms import PostForm
from idp.account.views import bp
from idp.db import now
from idp.db import session as db_session
from idp.mfa.services import notify


def _reauth(page: str) -> Any:
    """To the login page's "enter your password again", then back to ``page``."""
    return redirect(url_for("account.login", next=url_for(page)), code=303)


@bp.route("/account/data")
@login_required
def data_rights_page() -> Any:
    if not recently_authenticated():
        return _reauth("account.data_rights_page")
    return render_template("account/data.html")


@bp.route("/account/data.json")
@login_required
def data_export() -> Any:
    """The file (PDPA s.30/s.31): an attachment never kept by a cache, audited."""
    if not recently_authenticated():
        return _reauth("account.data_rights_page")
    db = db_session()
    body = data_rights.export(db, current_app.extensions["idp_settings"], current_user, now())
    data_rights.record_export(db, current_user)
    db.commit()
    resp = Response(
        json.dumps(body, ensure_ascii=False, indent=2, sort_keys=False),
        mimetype="application/json",
    )
    resp.headers["Content-Disposition"] = 'attachment; filename="my-account-data.json"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/account/close", methods=["GET", "POST"])
@login_required
def close_account() -> Any:
    """The page is the confirmation: what closing means, then one POST (CSRF)."""
    if not recently_authenticated():
        return _reauth("account.close_account")
    form = PostForm()
    if request.method == "POST" and form.validate_on_submit():
        db = db_session()
        try:
            data_rights.request_closure(db, current_user, now())
        except data_rights.ClosureRefused:
            db.rollback()
            return redirect(url_for("account.close_account"), code=303)
        db.commit()
        settings = current_app.extensions["idp_settings"]
        notify(
            settings,
            current_user,
            "account_closure",
            stage="requested",
            when=current_user.closure_requested_at,
            days=settings.closed_account_retention_days,
        )
        return redirect(url_for("account.close_account"), code=303)
    return render_template(
        "account/close.html",
        form=form,
        requested_at=current_user.closure_requested_at,
        days=current_app.extensions["idp_settings"].closed_account_retention_days,
    ), (400 if request.method == "POST" else 200)
