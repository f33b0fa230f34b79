"""The person's own sign-in factors: list, add, rename, revoke with a reason,
regenerate recovery codes (MISSION B4, SECURITY.md M-08, M-11)."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from idp.account.auth_state import recently_authenticated
from idp.confirm import confirmation_page, confirmed
from idp.db import now
from idp.db import session as db_session
from idp.mfa import services
from idp.mfa.forms import RenameForm, RevokeForm
from idp.mfa.messages import revoke_confirmation
from idp.mfa.services import MfaError
from idp.mfa.views import totp_enrolment
from idp.models import MfaFactor

bp = Blueprint("security", __name__)


def _reauth() -> Any:
    return redirect(url_for("account.login", next="security"), code=303)


@bp.route("/account/security")
@login_required
def overview() -> Any:
    t = now()
    factors = services.active_factors(db_session(), current_user.id)
    return render_template(
        "account/security.html",
        factors=factors,
        now=t,
        rename=RenameForm(),
        revoke=RevokeForm(),
        recent=recently_authenticated(),
        message=request.args.get("m"),
    )


@bp.route("/account/security/totp", methods=["GET", "POST"])
@login_required
def add_totp() -> Any:
    if not recently_authenticated():
        return _reauth()
    return totp_enrolment(url_for("security.overview"), url_for("security.add_totp"))


@bp.route("/account/security/webauthn")
@login_required
def add_webauthn() -> Any:
    if not recently_authenticated():
        return _reauth()
    return render_template("account/add_webauthn.html")


@bp.route("/account/security/factors/<int:factor_id>/rename", methods=["POST"])
@login_required
def rename(factor_id: int) -> Any:
    form = RenameForm()
    if form.validate_on_submit():
        with contextlib.suppress(MfaError):
            services.rename_factor(db_session(), current_user, factor_id, form.name.data)
    return redirect(url_for("security.overview"), code=303)


@bp.route("/account/security/factors/<int:factor_id>/revoke", methods=["POST"])
@login_required
def revoke(factor_id: int) -> Any:
    if not recently_authenticated():
        return _reauth()
    form = RevokeForm()
    if not form.validate_on_submit():
        return redirect(url_for("security.overview"), code=303)
    refusal = services.revoke_refusal(db_session(), current_user, factor_id)
    if refusal is None and not confirmed():
        factor = db_session().get(MfaFactor, factor_id)
        return confirmation_page(revoke_confirmation(factor.name), url_for("security.overview"))
    try:
        services.revoke_factor(
            db_session(),
            current_app.extensions["idp_settings"],
            current_user,
            factor_id,
            form.reason.data,
        )
    except MfaError as exc:
        if exc.code == "last_factor":
            return redirect(url_for("security.overview", m="last_factor"), code=303)
    return redirect(url_for("security.overview", m="revoked"), code=303)


@bp.route("/account/security/recovery", methods=["POST"])
@login_required
def regenerate_recovery() -> Any:
    if not recently_authenticated():
        return _reauth()
    form = RenameForm(meta={"csrf": True})
    form.validate()
    if form.csrf_token.errors:
        return redirect(url_for("security.overview"), code=303)
    db = db_session()
    codes = services.regenerate_recovery_codes(
        db, current_app.extensions["idp_settings"], current_user
    )
    db.commit()
    return render_template(
        "mfa/recovery_codes.html", codes=codes, continue_url=url_for("security.overview")
    )
