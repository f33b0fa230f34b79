"""JSON endpoints for the WebAuthn ceremonies (called by static/webauthn.js)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, session, url_for
from flask_login import current_user

from idp.account import auth_state
from idp.account.auth_state import recently_authenticated
from idp.db import now
from idp.db import session as db_session
from idp.mfa import policy, services, webauthn
from idp.mfa.messages import default_factor_names
from idp.oidc import flows
from idp.oidc.acr import ACR_PHISHING_RESISTANT
from idp.oidc.flows import Flow
from idp.ops import metrics

bp = Blueprint("webauthn", __name__)


def _issuer() -> str:
    return current_app.extensions["idp_settings"].issuer


def _json(body: str) -> Response:
    return Response(body, 200, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def _fail(status: int = 400) -> tuple[Response, int]:
    return jsonify(ok=False), status


def _flow() -> Flow | None:
    flow = flows.load(request.args.get("flow"))
    return flow if flow is not None and flow.step_up is not None else None


def _may_register() -> bool:
    """Registering needs a live enrolment flow or a recent password (M-08, M-11)."""
    if not current_user.is_authenticated:
        return False
    flow = _flow()
    if flow is not None and services.may_enrol_in_flow(
        db_session(), current_user.id, now(), auth_state.factors(), flow.started
    ):
        return True
    return recently_authenticated()


@bp.route("/mfa/webauthn/register/options", methods=["POST"])
def register_options() -> Any:
    if not _may_register():
        return _fail(403)
    return _json(webauthn.registration_options(db_session(), _issuer(), current_user, session.sid))


@bp.route("/mfa/webauthn/register/verify", methods=["POST"])
def register_verify() -> Any:
    if not _may_register():
        return _fail(403)
    # Enrolling counts as proving a factor only where may_enrol_in_flow says (M-08).
    flow = _flow()
    proves = flow is not None and services.may_enrol_in_flow(
        db_session(), current_user.id, now(), auth_state.factors(), flow.started
    )
    try:
        factor = services.complete_webauthn_registration(
            db_session(),
            current_app.extensions["idp_settings"],
            current_user,
            session.sid,
            request.get_data(as_text=True),
            request.args.get("name", "").strip() or default_factor_names()["webauthn"],
        )
    except webauthn.WebAuthnFailed:
        return _fail()
    if flow is not None:
        if proves:
            auth_state.add_factor(policy.WEBAUTHN_UV if factor.uv_capable else policy.WEBAUTHN)
        return jsonify(ok=True, redirect=flow.continue_url)
    return jsonify(ok=True, redirect=url_for("security.overview"))


def _require_uv(flow: Flow) -> bool:
    return flow.step_up is not None and flow.step_up.required == ACR_PHISHING_RESISTANT


@bp.route("/mfa/webauthn/authenticate/options", methods=["POST"])
def authenticate_options() -> Any:
    flow = _flow()
    if flow is None or not current_user.is_authenticated:
        return _fail(403)
    return _json(
        webauthn.authentication_options(
            db_session(), _issuer(), current_user, session.sid, _require_uv(flow)
        )
    )


@bp.route("/mfa/webauthn/authenticate/verify", methods=["POST"])
def authenticate_verify() -> Any:
    flow = _flow()
    if flow is None or not current_user.is_authenticated:
        return _fail(403)
    try:
        _factor, verified = webauthn.authenticate(
            db_session(),
            _issuer(),
            current_user,
            session.sid,
            request.get_data(as_text=True),
            _require_uv(flow),
        )
    except webauthn.WebAuthnFailed:
        # Not counted toward the account lockout, by decision: an assertion is a
        # signature over a one-time server challenge and cannot be guessed, while a
        # cancelled browser dialog or the wrong key must not lock the person out.
        metrics.sign_in(policy.WEBAUTHN, "failure")
        return _fail()
    kind = policy.WEBAUTHN_UV if verified else policy.WEBAUTHN
    metrics.sign_in(kind, "success")
    metrics.step_up(kind)
    auth_state.add_factor(kind)
    return jsonify(ok=True, redirect=flow.continue_url)
