"""``/account/verify``: the ways a signed-in person can verify their identity (routes
on the account blueprint). The ways themselves belong to other areas and are linked
only when they exist in this deployment: the identity app (``proofing.start``), the
population registry check (``enrollment.verify_registry``) and, for staff, the staff
document upload (``staff.application``). ``next`` (a path of ours, e.g. the
sign-in flow that sent the person here) is passed on so verifying continues it."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from flask_login import current_user, login_required

from idp.account.views import bp
from idp.enrollment.membership import MemberType
from idp.enrollment.verdicts import state_of


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a path on this site (``/...``, not ``//`` or ``/\\``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if len(value) > 4000 or any(c in value for c in "\r\n\t"):
        return None
    return value


@bp.route("/account/verify")
@login_required
def verify() -> Any:
    settings = current_app.extensions["idp_settings"]
    views = current_app.view_functions
    next_path = safe_next(request.args.get("next"))
    state = state_of(current_user._get_current_object())
    kw = {"next": next_path} if next_path else {}
    ways = []
    if "proofing.start" in views and settings.identity_app_issuer:
        ways.append(("identity_app", url_for("proofing.start", **kw)))
    if "enrollment.verify_registry" in views and settings.registry_url:
        ways.append(("registry", url_for("enrollment.verify_registry", **kw)))
    if state.member_type is MemberType.STAFF and "staff.application" in views:
        ways.append(("staff_document", url_for("staff.application", **kw)))
    return render_template("account/verify.html", state=state, ways=ways, next_path=next_path)
