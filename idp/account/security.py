"""The person's own sign-in factors: list, add, rename, revoke with a reason,
regenerate recovery codes (MISSION B4, SECURITY.md M-08, M-11)."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from idp.account import auth_state
from idp.db import now
from idp.db import session as db_session
from idp.mfa import policy, services
from idp.mfa.forms import RenameForm, RevokeForm
from idp.mfa.services import MfaError
from idp.mfa.views import totp_enrolment
from idp.models import Client, Grant, Membership, User
from idp.oidc.acr import ACR_MFA

bp = Blueprint("security", __name__)
REAUTH_SECONDS = 600


def recently_authenticated() -> bool:
    """A password within the last 10 minutes (re-authentication before factor changes)."""
    return now() - auth_state.factors().get(policy.PASSWORD, 0) <= REAUTH_SECONDS


def _reauth() -> Any:
    return redirect(url_for("account.login", next="security"), code=303)


def strong_factor_required(user_id: int) -> bool:
    """Does a client this person uses demand mfa or more, or a console they may use
    (org admin, platform operator: both need mfa)?"""
    db = db_session()
    user = db.get(User, user_id)
    if user is not None and user.is_operator:
        return True
    admin = db.scalar(
        select(Membership.id).where(Membership.user_id == user_id, Membership.role == "admin")
    )
    if admin is not None:
        return True
    levels = db.scalars(
        select(Client.min_acr)
        .join(Grant, Grant.client_id == Client.client_id)
        .where(Grant.user_id == user_id)
        .distinct()
    )
    return any(policy.rank(level) >= policy.rank(ACR_MFA) for level in levels)


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
    try:
        services.revoke_factor(
            db_session(),
            current_app.extensions["idp_settings"],
            current_user,
            factor_id,
            form.reason.data,
            strong_factor_required(current_user.id),
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


def security_messages() -> dict[str, str]:
    return {
        "last_factor": _(
            "You cannot remove your last second factor: an application you use "
            "requires one. Add another factor first."
        ),
        "revoked": _("The factor was removed. We sent you an email about it."),
    }
