"""Forgot-password pages (routes on the account blueprint); the rules are in
:mod:`idp.account.recovery`.

    /account/forgot --details--> /account/forgot/code --right code-->
        [/account/forgot/verify: authenticator app, security key or recovery code]
        --> /account/forgot/password --> done (sign in again)

The flow lives in the server-side session under ``password_reset``. The details page
and the resend answer no sooner than IDP_PASSWORD_RESET_ANSWER_MS after the request
came in, matched or not (A-09: no timing oracle from storing and mailing a code).
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from idp.account import recovery
from idp.account.forms import IDENTIFIER_LABEL, PostForm
from idp.account.messages import account_messages, email_messages
from idp.account.recovery import ResetError, ResetFlow
from idp.account.views import bp
from idp.db import now
from idp.db import session as db_session
from idp.extensions import limiter
from idp.mfa import webauthn
from idp.mfa.email_otp import Outcome

_KEY = "password_reset"


class ForgotForm(FlaskForm):
    identifier = StringField(IDENTIFIER_LABEL, validators=[DataRequired(), Length(max=254)])
    document = StringField(
        _l("National ID or passport number"), validators=[DataRequired(), Length(max=40)]
    )


class ResetCodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class FactorForm(FlaskForm):
    method = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=1024)])


def reset_messages() -> dict[str, str]:
    minutes = max(1, -(-_settings().lockout_seconds // 60))
    return {
        Outcome.WRONG: email_messages()["code_wrong"],
        Outcome.SPENT: _(
            "This code no longer works: it was used, it expired, or it was tried too often. "
            "Ask for a new code."
        ),
        Outcome.LOCKED: ngettext(
            "Too many wrong codes: wait %(num)d minute, then try again.",
            "Too many wrong codes: wait %(num)d minutes, then try again.",
            minutes,
        ),
        "flow_expired": _("This password reset has expired. Start again."),
        "factor_needed": _("First confirm it is you with your second factor."),
        "factor_wrong": _("That did not work. Check the code and try again."),
        "mismatch": _("The two passwords are not the same."),
    }


def _settings() -> Any:
    return current_app.extensions["idp_settings"]


def _reset_limit() -> str:
    return _settings().password_reset_rate_limit


def _flow() -> ResetFlow | None:
    return ResetFlow.from_dict(session.get(_KEY), now())


def _keep(flow: ResetFlow) -> None:
    session[_KEY] = flow.to_dict()


def _start_again() -> Any:
    session.pop(_KEY, None)
    return redirect(url_for("account.forgot", m="expired"), code=303)


def _answer_no_sooner(started: float) -> None:
    """Hold the answer until the configured floor: a matched request stores and mails
    a code, an unmatched one does not, and neither may be told apart by time (A-09)."""
    left = _settings().password_reset_answer_ms / 1000 - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


@bp.route("/account/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot() -> Any:
    form = ForgotForm()
    if form.validate_on_submit():
        started = time.monotonic()
        flow = recovery.start(db_session(), _settings(), form.identifier.data, form.document.data)
        _keep(flow)
        _answer_no_sooner(started)
        return redirect(url_for("account.forgot_code"), code=303)
    expired = request.args.get("m") == "expired"
    return render_template(
        "account/forgot.html",
        form=form,
        error=reset_messages()["flow_expired"] if expired else None,
    ), (400 if form.errors else 200)


def _code_page(flow: ResetFlow, error: str | None, status: int) -> Any:
    wait = recovery.resend_wait(db_session(), flow, now())
    resp = current_app.make_response(
        (
            render_template(
                "account/forgot_code.html",
                form=ResetCodeForm(),
                error=error,
                wait=wait,
                sent=request.args.get("sent") == "1",
            ),
            status,
        )
    )
    if status == 429:
        resp.headers["Retry-After"] = str(wait)  # SECURITY.md A-10
    return resp


@bp.route("/account/forgot/code", methods=["GET", "POST"])
def forgot_code() -> Any:
    flow = _flow()
    if flow is None:
        return _start_again()
    form = ResetCodeForm()
    if not form.validate_on_submit():
        return _code_page(flow, None, 400 if form.errors else 200)
    flow, outcome = recovery.check_code(db_session(), _settings(), flow, form.code.data)
    _keep(flow)
    if outcome is not Outcome.ACCEPTED:
        return _code_page(flow, reset_messages()[outcome], 400)
    session.rotate()  # this browser may now set the password (S-02)
    return redirect(url_for("account.forgot_next"), code=303)


@bp.route("/account/forgot/resend", methods=["POST"])
def forgot_resend() -> Any:
    """Not behind the limiter (its headers would overwrite Retry-After): the 90 s pause
    per flow and per account bounds it, and a new flow needs the limited form."""
    flow = _flow()
    if flow is None or not PostForm().validate_on_submit():
        return _start_again()
    started = time.monotonic()
    flow, wait = recovery.resend(db_session(), _settings(), flow)
    _keep(flow)
    _answer_no_sooner(started)
    if wait:  # too soon: 429 + Retry-After, and no mail
        note = ngettext(
            "Wait %(num)d second before asking for a new code.",
            "Wait %(num)d seconds before asking for a new code.",
            wait,
        )
        return _code_page(flow, note, 429)
    return redirect(url_for("account.forgot_code", sent=1), code=303)


@bp.route("/account/forgot/next")
def forgot_next() -> Any:
    """After the code: the second factor if the person has one, else the password."""
    flow = _flow()
    if flow is None:
        return _start_again()
    try:
        factor = recovery.needs_factor(db_session(), flow)
    except ResetError:
        return _start_again()
    return redirect(url_for("account.forgot_factor" if factor else "account.forgot_password"))


@bp.route("/account/forgot/verify", methods=["GET", "POST"])
def forgot_factor() -> Any:
    flow = _flow()
    if flow is None:
        return _start_again()
    db = db_session()
    try:
        user = recovery.flow_user(db, flow)
    except ResetError:
        return _start_again()
    form, error = FactorForm(), None
    if form.validate_on_submit():
        try:
            flow = recovery.check_factor(db, _settings(), flow, form.method.data, form.code.data)
        except ResetError as exc:
            error = reset_messages()[exc.code]
        else:
            _keep(flow)
            session.rotate()
            return redirect(url_for("account.forgot_password"), code=303)
    return render_template(
        "account/forgot_factor.html",
        form=form,
        kinds=recovery.factor_kinds(db, user.id, now()),
        error=error,
    ), (200 if error is None else 400)


@bp.route("/account/forgot/webauthn/options", methods=["POST"])
def forgot_webauthn_options() -> Any:
    flow = _flow()
    try:
        user = recovery.flow_user(db_session(), flow) if flow else None
    except ResetError:
        user = None
    if user is None:  # CSRF: the global CSRFProtect checks the X-CSRFToken header
        return jsonify(ok=False), 403
    body = webauthn.authentication_options(
        db_session(), _settings().issuer, user, session.sid, require_uv=False
    )
    return current_app.response_class(
        body, 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}
    )


@bp.route("/account/forgot/webauthn/verify", methods=["POST"])
def forgot_webauthn_verify() -> Any:
    flow = _flow()
    try:
        user = recovery.flow_user(db_session(), flow) if flow else None
    except ResetError:
        user = None
    if flow is None or user is None:
        return jsonify(ok=False), 403
    try:
        webauthn.authenticate(
            db_session(),
            _settings().issuer,
            user,
            session.sid,
            request.get_data(as_text=True),
            require_uv=False,
        )
    except webauthn.WebAuthnFailed:
        return jsonify(ok=False), 400
    _keep(ResetFlow(**{**flow.to_dict(), "factor_ok": True}))
    session.rotate()
    return jsonify(ok=True, redirect=url_for("account.forgot_password"))


@bp.route("/account/forgot/password", methods=["GET", "POST"])
def forgot_password() -> Any:
    flow = _flow()
    if flow is None:
        return _start_again()
    db = db_session()
    try:
        if recovery.needs_factor(db, flow):
            return redirect(url_for("account.forgot_factor"), code=303)
    except ResetError:
        return _start_again()
    form, error = NewPasswordForm(), None
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            error = reset_messages()["mismatch"]
        else:
            try:
                recovery.complete(db, _settings(), flow, form.password.data)
            except ResetError as exc:
                db.rollback()
                if exc.code in ("flow_expired", "factor_needed"):
                    return _start_again()
                error = account_messages().get(exc.code, exc.code)
            else:
                session.pop(_KEY, None)
                return redirect(url_for("account.forgot_done"), code=303)
    return render_template("account/forgot_password.html", form=form, error=error), (
        200 if error is None and not form.errors else 400
    )


@bp.route("/account/forgot/done")
def forgot_done() -> Any:
    return render_template("account/forgot_done.html")


@bp.route("/account/forgot/resume")
def forgot_resume() -> Any:
    """The link in an operator's reset mail: binds this browser to the flow the mailed
    code belongs to (a GET changes nothing else: a mail scanner opening it spends
    nothing)."""
    flow = recovery.flow_from_ticket(_settings(), request.args.get("ticket", "")[:500])
    if flow is None:
        return _start_again()
    _keep(flow)
    return redirect(url_for("account.forgot_code"), code=303)
