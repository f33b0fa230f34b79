"""Second-factor pages inside an authorization flow: challenge and enrolment.

    /authorize --(policy: second_factor)--> /mfa/challenge --(verified)--> /authorize
    /authorize --(policy: enrol)--> /mfa/enrol --(first code valid)--> /authorize

The flow id binds each page to the session and request that started it (M-10): a
POST without a live flow, or for another session, gets an error page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import ngettext
from flask_login import current_user

from idp.account import auth_state
from idp.db import now
from idp.db import session as db_session
from idp.mfa import policy, services, totp
from idp.mfa.forms import CodeForm, EnrolForm
from idp.mfa.messages import default_factor_names, enrol_reason, step_up_reason
from idp.mfa.messages import mfa_message as _message
from idp.mfa.services import MfaError
from idp.models import MfaFactor
from idp.oidc import flows
from idp.oidc.acr import ACR_MFA
from idp.oidc.errors import error_page
from idp.oidc.flows import Flow
from idp.oidc.interaction import Asker, url_for_next, who_asks
from idp.oidc.pipeline import Next, StepUp
from idp.ops import metrics

bp = Blueprint("mfa", __name__)
ON_ACCOUNT_PAGE = Asker("account")  # the person adds a factor of their own accord


def settings():
    return current_app.extensions["idp_settings"]


def _flow_or_error() -> tuple[Flow | None, Any]:
    flow = flows.load(request.values.get("flow"))
    if flow is None or flow.step_up is None:
        return None, error_page("flow_expired", None, 400)
    if not current_user.is_authenticated:
        return None, redirect(url_for_next(Next.LOGIN, flow.id))
    return flow, None


def _email_wait(flow_id: str) -> int:
    wait = services.email_otp_wait(db_session(), settings(), current_user, flow_id)
    return -1 if wait is None else wait  # -1: never sent


@bp.route("/mfa/challenge", methods=["GET", "POST"])
def challenge() -> Any:
    flow, problem = _flow_or_error()
    if problem is not None:
        return problem
    flow_id = flow.id
    allowed = set(flow.step_up.factors)
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        method, code, db, s = form.method.data, form.code.data, db_session(), settings()
        ok, kind = False, None
        if method == "totp" and policy.TOTP in allowed:
            ok, kind = services.verify_totp(db, s, current_user, code), policy.TOTP
        elif method == "email" and policy.EMAIL in allowed:
            ok, kind = services.verify_email_otp(db, s, current_user, flow_id, code), policy.EMAIL
        elif method == "recovery" and (allowed & {policy.TOTP, policy.WEBAUTHN}):
            ok, kind = services.verify_recovery_code(db, s, current_user, code), policy.RECOVERY
        if kind:
            metrics.sign_in(kind, "success" if ok else "failure")
        if ok and kind:
            metrics.step_up(kind)
            auth_state.add_factor(kind)
            expiring = (
                services.expiring_totp(db, current_user.id, now()) if kind == policy.TOTP else None
            )
            if expiring is not None:
                # MISSION B5: in its last 30 days every login offers "continue" or "renew now".
                return render_template(
                    "mfa/renew.html",
                    factor=expiring,
                    continue_url=flow.continue_url,
                    renew_url=url_for("mfa.enrol", flow=flow_id, renew=expiring.id),
                )
            return redirect(flow.continue_url, code=303)
        error = _message("wrong_code")
    return _challenge_page(flow, form, error, 200 if error is None else 400)


def _challenge_page(
    flow: Flow,
    form: CodeForm,
    error: str | None,
    status: int,
    email_wait: int | None = None,
) -> Any:
    allowed = set(flow.step_up.factors)
    if email_wait is None and policy.EMAIL in allowed:
        email_wait = _email_wait(flow.id)
    asker = who_asks(db_session(), flow)
    resp = current_app.make_response(
        (
            render_template(
                "mfa/challenge.html",
                reason=step_up_reason(asker.kind, asker.name),
                form=form,
                flow_id=flow.id,
                allowed=allowed,
                error=error,
                email_wait=email_wait,
                email_sent=request.args.get("sent") == "1",
            ),
            status,
        )
    )
    if status == 429 and email_wait:
        resp.headers["Retry-After"] = str(email_wait)  # SECURITY.md A-10
    return resp


@bp.route("/mfa/email/send", methods=["POST"])
def send_email() -> Any:
    flow, problem = _flow_or_error()
    if problem is not None:
        return problem
    form = CodeForm(meta={"csrf": True})
    form.validate()  # only the CSRF token matters here
    if form.csrf_token.errors or policy.EMAIL not in flow.step_up.factors:
        return error_page("invalid_request", None, 400)
    try:
        result = services.send_email_otp(db_session(), settings(), current_user, flow.id)
    except MfaError as exc:
        return _challenge_page(flow, CodeForm(), _message(exc.code), 503, email_wait=0)
    if not result.sent:  # too soon: 429 + Retry-After, and no mail
        wait = ngettext(
            "Wait %(num)d second before asking for a new code.",
            "Wait %(num)d seconds before asking for a new code.",
            result.retry_after,
        )
        return _challenge_page(flow, CodeForm(), wait, 429, result.retry_after)
    return redirect(url_for("mfa.challenge", flow=flow.id, sent=1), code=303)


@bp.route("/mfa/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """First factor for a person whose client requires one (TOTP by QR code, or a
    security key), or the renewal of an expiring soft token (``?renew=<factor id>``)."""
    flow, problem = _flow_or_error()
    if problem is not None:
        return problem
    renew = request.args.get("renew", type=int)
    if renew is not None:
        # Renewal is offered right after a soft-token code in this flow (MISSION B5).
        if auth_state.factors().get(policy.TOTP, -1) < flow.started:
            return error_page("flow_expired", None, 400)
    elif not services.may_enrol_in_flow(
        db_session(), current_user.id, now(), auth_state.factors(), flow.started
    ):
        # Someone who has a strong factor proves it first (then /authorize comes back
        # here if a stronger one is still needed); enrolling is not a step-up.
        usable = services.enrolled_kinds(db_session(), current_user.id, now())
        kinds = tuple(k for k in (policy.TOTP, policy.WEBAUTHN) if k in usable)
        flow = flows.save(flow.evolve(step_up=StepUp(ACR_MFA, kinds)))
        return redirect(url_for_next(Next.SECOND_FACTOR, flow.id), code=303)
    webauthn_ok = bool({policy.WEBAUTHN, policy.WEBAUTHN_UV} & set(flow.step_up.factors))
    return totp_enrolment(
        flow.continue_url,
        url_for("mfa.enrol", flow=flow.id, renew=renew),
        flow.id if webauthn_ok and renew is None else None,
        replaces=renew,
        flow_started=flow.started,
        asker=Asker("renew") if renew is not None else who_asks(db_session(), flow),
    )


def totp_enrolment(
    continue_url: str,
    self_url: str,
    webauthn_flow: str | None = None,
    replaces: int | None = None,
    flow_started: int | None = None,
    asker: Asker = ON_ACCOUNT_PAGE,
) -> Any:
    """Shared by the flow and the account page: start, show QR, confirm with a code.
    ``asker`` is who wants the factor (the account page: the person themself)."""
    s, db = settings(), db_session()
    pending_id = session.get("totp_pending")
    if request.method == "POST" and request.form.get("step") == "start":
        form = EnrolForm()
        if form.validate_on_submit():
            name = (form.name.data or "").strip() or default_factor_names()["totp"]
            factor, _secret = services.start_totp(db, s, current_user, name)
            db.commit()
            session["totp_pending"] = factor.id
            return redirect(self_url, code=303)
    error = None
    if request.method == "POST" and request.form.get("step") == "confirm" and pending_id:
        form = CodeForm()
        if form.validate_on_submit():
            # A renewal (after a soft-token code) or a first factor proves a factor now;
            # a further authenticator added from the account page does not (M-08).
            proves = replaces is not None or services.may_enrol_in_flow(
                db, current_user.id, now(), auth_state.factors(), flow_started
            )
            try:
                codes = services.confirm_totp(
                    db, s, current_user, pending_id, form.code.data, replaces=replaces
                )
            except MfaError as exc:
                error = _message(exc.code)
            else:
                session.pop("totp_pending", None)
                if proves:
                    auth_state.add_factor(policy.TOTP)
                return render_template(
                    "mfa/recovery_codes.html", codes=codes, continue_url=continue_url
                )
    factor = db.get(MfaFactor, pending_id) if pending_id else None
    if factor is None or factor.user_id != current_user.id or factor.status != "pending":
        return render_template(
            "mfa/enrol_start.html",
            reason=enrol_reason(asker.kind, asker.name),
            form=EnrolForm(),
            self_url=self_url,
            webauthn_options=url_for("webauthn.register_options", flow=webauthn_flow)
            if webauthn_flow
            else None,
            webauthn_verify=url_for("webauthn.register_verify", flow=webauthn_flow)
            if webauthn_flow
            else None,
        )
    secret = services.totp_secret(s, factor)
    uri = totp.provisioning_uri(secret, current_user.email, "idp")
    return render_template(
        "mfa/enrol_totp.html",
        form=CodeForm(method="totp"),
        secret=secret,
        qr=totp.qr_data_uri(uri),
        self_url=self_url,
        error=error,
    ), (200 if error is None else 400)
