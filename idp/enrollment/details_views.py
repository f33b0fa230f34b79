"""The wizard's step 3 (your details: the emailed code and the password; submitting
makes the account), step 5 (second factor, the existing TOTP enrolment) and the
welcome page. Routes on the ``enrollment`` blueprint (:mod:`idp.enrollment.views`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from idp.account.auth_state import start_login
from idp.account.identifiers import email_key
from idp.account.passwords import password_problem
from idp.account.services import AccountError
from idp.db import now
from idp.db import session as db_session
from idp.enrollment import registration, verdicts, wizard
from idp.enrollment.agencies import find_agency
from idp.enrollment.messages import message
from idp.enrollment.views import (
    FLOW_KEY,
    SESSION_KEY,
    bp,
    current_or_404,
    limited,
    settings,
    steps_context,
)
from idp.extensions import page_locale
from idp.models import Registration, User
from idp.oidc import flows
from idp.oidc.interaction import Asker

DONE_KEY = "enrollment.done"  # the account just made here: its plan (steps 4, 5)


def _details_input() -> wizard.DetailsInput:
    f = request.form
    return wizard.DetailsInput(
        given_name_th=f.get("given_name_th", ""),
        family_name_th=f.get("family_name_th", ""),
        given_name_en=f.get("given_name_en", ""),
        family_name_en=f.get("family_name_en", ""),
        gender=f.get("gender", ""),
        birthdate=f.get("birthdate", ""),
        mobile=f.get("mobile", ""),
        position=f.get("position", ""),
        code=f.get("code", "")[:12],
        password=f.get("password", "")[:1024],
        password_confirm=f.get("password_confirm", "")[:1024],
    )


def continue_url() -> str:
    """Where the person goes once registered: the relying party's /authorize flow that
    sent them to "Register", else their account page."""
    flow = flows.load(session.get(FLOW_KEY))
    return flow.continue_url if flow is not None else url_for("account.home")


def after_account(reg: Registration, user: User, plan: wizard.Plan) -> Any:
    """Where the wizard goes once the account exists. HOOK (staff part of issue 10):
    a staff member whom no directory found goes to step 4 (``enrollment.waiting``),
    the staff document upload, once that endpoint exists."""
    session[DONE_KEY] = {"user": user.id, "second_factor": plan.needs_second_factor}
    if plan.needs_waiting and "enrollment.waiting" in current_app.view_functions:
        return redirect(url_for("enrollment.waiting"), code=303)
    if plan.needs_second_factor:
        return redirect(url_for("enrollment.second_factor"), code=303)
    return redirect(url_for("enrollment.welcome"), code=303)


def _render(reg: Registration, typed: dict, errors: list, status: int, wait: int | None) -> Any:
    s = settings()
    agency = find_agency(s, reg.agency) if reg.agency else None
    return render_template(
        "enrollment/details.html",
        reg=reg,
        typed=typed,
        errors=errors,
        error_fields={f for f, _m in errors},
        staff=reg.member_type == "staff",
        agency_name=agency.name(page_locale()) if agency else "",
        genders=wizard.GENDERS,
        wait=wait or 0,
        **steps_context(reg, wizard.DETAILS),
    ), status


@bp.route("/register/details", methods=["GET", "POST"])
@limited
def details() -> Any:
    """Step 3. The code is mailed on the first visit; "send a new code" after 90 s."""
    db, s = db_session(), settings()
    reg = current_or_404()
    if not wizard.may_enter(reg.step, wizard.DETAILS):
        return redirect(url_for("enrollment.prove"))
    data = dict(reg.data or {})
    typed = {k: data.get(k, "") for k in wizard.DetailsInput.__dataclass_fields__}
    typed.update(password="", password_confirm="", code="")
    errors: list[tuple[str, str]] = []
    action = request.form.get("action") if request.method == "POST" else None
    if request.method == "GET" and registration.code_wait(db, s, reg) is None:
        try:
            registration.send_code(db, s, reg)
        except registration.RegistrationError as exc:
            errors.append(("code", message(exc.code)))
    if action == "resend":
        try:
            issued = registration.send_code(db, s, reg)
        except registration.RegistrationError as exc:
            return _render(reg, typed, [("code", message(exc.code))], 429, None)
        if issued.code is None:
            response = _render(reg, typed, [], 429, issued.retry_after)
            body, status = response
            return body, status, {"Retry-After": str(issued.retry_after)}
        return redirect(url_for("enrollment.details", sent=1), code=303)
    if action == "submit":
        given = _details_input()
        today = date.fromtimestamp(now())
        cleaned, problems = wizard.check_details(
            given, staff=reg.member_type == "staff", today=today
        )
        typed = {**vars(given), **cleaned, "password": "", "password_confirm": "", "code": ""}
        context = tuple(
            w.casefold()
            for w in (
                cleaned["given_name_en"],
                cleaned["family_name_en"],
                cleaned["given_name_th"],
                cleaned["family_name_th"],
                email_key(reg.email).split("@")[0],
            )
            if len(w) >= 3
        )
        problem = password_problem(given.password, context)
        if problem:
            problems.append(("password", problem))
        if not any(f == "code" for f, _c in problems):
            outcome = registration.check_code(db, s, reg, given.code)
            if outcome is not None:
                problems.append(("code", outcome))
        reg.data = {**data, **cleaned}
        db.commit()
        if problems:
            errors = [(f, message(c)) for f, c in problems]
            return _render(reg, typed, errors, 400, registration.code_wait(db, s, reg))
        plan = registration.plan(db, s, reg)
        try:
            finished = registration.finish(db, s, reg, cleaned, given.password)
        except registration.RegistrationError:
            return render_template("enrollment/already_finished.html"), 409
        except AccountError as exc:
            errors = [(exc.field, message(exc.code))]
            return _render(reg, typed, errors, 400, registration.code_wait(db, s, reg))
        session.pop(SESSION_KEY, None)
        if finished.user is None:
            return redirect(url_for("enrollment.submitted"), code=303)
        start_login(finished.user)
        return after_account(reg, finished.user, plan)
    return _render(
        reg, typed, errors, 200 if not errors else 429, registration.code_wait(db, s, reg)
    )


@bp.route("/register/submitted")
def submitted() -> Any:
    """The generic end (a document or address already on file): check your email."""
    return render_template("enrollment/submitted.html")


def _done_for_me() -> dict | None:
    done = session.get(DONE_KEY)
    if not isinstance(done, dict) or done.get("user") != current_user.id:
        return None
    return done


@bp.route("/register/second-factor", methods=["GET", "POST"])
@login_required
def second_factor() -> Any:
    """Step 5: the existing soft-token enrolment (idp.mfa.views.totp_enrolment)."""
    from idp.mfa.views import totp_enrolment

    if _done_for_me() is None:
        return redirect(url_for("account.home"))
    return totp_enrolment(
        url_for("enrollment.welcome"),
        url_for("enrollment.second_factor"),
        asker=Asker("registration"),
    )


@bp.route("/register/welcome")
@login_required
def welcome() -> Any:
    """The account is ready: the membership (and when a temporary one ends)."""
    state = verdicts.state_of(current_user)
    return render_template(
        "enrollment/welcome.html",
        state=state,
        continue_url=continue_url(),
        verify_url=url_for("enrollment.verify_registry")
        if settings().registry_url and current_user.id_doc_kind == "national_id"
        else None,
    )
