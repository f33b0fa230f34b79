"""The people's registration wizard, pages of step 1 and the way in (issue 10 "People";
steps in :mod:`idp.enrollment.wizard`, services in :mod:`idp.enrollment.registration`).

The browser's registration is ``session["enrollment.registration"]`` (its public id);
an /authorize flow that sent the person to "Register" is ``session["enrollment.flow"]``
and continues after the account is made. Every POST is rate limited per IP
(IDP_REGISTRATION_RATE_LIMIT) and per email domain (IDP_REGISTRATION_DOMAIN_LIMIT):
SECURITY.md R-08. Steps 2 and 3 and 5: :mod:`idp.enrollment.step_views`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from idp.config import Settings
from idp.db import now
from idp.db import session as db_session
from idp.enrollment import identity, registration, wizard
from idp.enrollment.agencies import load_agencies
from idp.enrollment.messages import message
from idp.extensions import limiter, page_locale
from idp.models import Registration
from idp.oidc import flows

bp = Blueprint("enrollment", __name__)
SESSION_KEY = "enrollment.registration"
FLOW_KEY = "enrollment.flow"


def settings() -> Settings:
    return current_app.extensions["idp_settings"]


def _ip_limit() -> str:
    return settings().registration_rate_limit


def _domain_limit() -> str:
    return settings().registration_domain_limit


def _email_domain() -> str:
    """The rate-limit key of the address this POST is about: the typed one (step 1)
    or the registration's."""
    typed = request.form.get("email", "")
    if "@" not in typed:
        reg = registration.find(db_session(), settings(), session.get(SESSION_KEY))
        typed = reg.email if reg is not None else ""
    return "domain:" + typed.rsplit("@", 1)[-1].strip().lower()[:200]


def limited(view: Any) -> Any:
    """Both R-08 limits on the view's POSTs."""
    view = limiter.limit(_domain_limit, key_func=_email_domain, methods=["POST"])(view)
    return limiter.limit(_ip_limit, methods=["POST"])(view)


def current() -> Registration | None:
    return registration.find(db_session(), settings(), session.get(SESSION_KEY))


def current_or_404(public_id: str | None = None) -> Registration:
    """The browser's registration; ``public_id`` in a URL must be it (R-08: another
    browser with someone's registration id gets 404)."""
    reg = current()
    if reg is None or (public_id is not None and public_id != reg.public_id):
        abort(404)
    return reg


def steps_context(reg: Registration | None, step: str) -> dict[str, Any]:
    """The numbered step list (``enrollment/_steps.html``): (number, name, label,
    url or None, is current)."""
    plan = registration.plan(db_session(), settings(), reg) if reg else wizard.Plan()
    labels = step_labels()
    reached = reg.step if reg is not None else wizard.IDENTITY
    items = []
    for number, name in enumerate(wizard.steps(plan), start=1):
        link = None
        if name in (wizard.IDENTITY, wizard.PROVE, wizard.DETAILS) and wizard.may_enter(
            reached, name
        ):
            link = url_for(f"enrollment.{name}")
        items.append((number, name, labels[name], link, name == step))
    return {"steps": items}


def step_labels() -> dict[str, str]:
    from flask_babel import gettext as _

    return {
        wizard.IDENTITY: _("Who you are"),
        wizard.PROVE: _("Prove who you are"),
        wizard.DETAILS: _("Your details"),
        wizard.WAITING: _("Approval"),
        wizard.SECOND_FACTOR: _("Second factor"),
    }


@bp.route("/register")
def start() -> Any:
    """Who registers: a person, or a company (another part of issue 10)."""
    flow = flows.load(request.args.get("flow"))
    if flow is not None:
        session[FLOW_KEY] = flow.id
    return render_template(
        "enrollment/start.html",
        resume=current() is not None,
        companies="companies.start" in current_app.view_functions,
    )


def _agencies() -> list[tuple[str, str]]:
    locale = page_locale()
    return [(a.code, a.name(locale)) for a in load_agencies(settings())]


def _identity_input() -> wizard.IdentityInput:
    f = request.form
    return wizard.IdentityInput(
        member_type=f.get("member_type", ""),
        agency=f.get("agency", ""),
        document_kind=f.get("document_kind", identity.NATIONAL_ID),
        national_id=f.get("national_id", "")[:40],
        passport_number=f.get("passport_number", "")[:40],
        nationality=f.get("nationality", "")[:2],
        passport_expiry=f.get("passport_expiry", "")[:10],
        email=f.get("email", "")[:254],
        notice_accepted=f.get("notice") == "yes",
    )


@bp.route("/register/identity", methods=["GET", "POST"], endpoint="identity")
@limited
def identity_step() -> Any:
    """Step 1: member type, identity document, email, the personal-data notice."""
    db, s = db_session(), settings()
    reg = current()
    notice = registration.newest_notice(db)
    errors: list[tuple[str, str]] = []
    typed = {}
    if reg is not None:
        typed = {
            "member_type": reg.member_type,
            "agency": reg.agency,
            "document_kind": reg.id_doc_kind or identity.NATIONAL_ID,
            "nationality": reg.nationality if reg.id_doc_kind == identity.PASSPORT else "",
            "passport_expiry": reg.passport_expires.isoformat() if reg.passport_expires else "",
            "email": reg.email,
        }
    if request.method == "POST":
        given = _identity_input()
        typed = {
            k: v for k, v in vars(given).items() if k not in ("national_id", "passport_number")
        }
        codes = frozenset(code for code, _name in _agencies())
        choice, problems = wizard.check_identity(given, codes, date.fromtimestamp(now()))
        if notice is None:
            problems.append(("notice", "notice"))
        errors = [(field, message(code)) for field, code in problems]
        if choice is not None and notice is not None:
            reg = registration.save_identity(
                db,
                s,
                reg,
                choice,
                notice_version=notice.version,
                ip=request.remote_addr,
                user_agent=request.headers.get("User-Agent", ""),
                locale=page_locale(),
                resume_url=lambda token: url_for("enrollment.resume", token=token, _external=True),
            )
            reg.step = wizard.later(reg.step, wizard.IDENTITY)
            db.commit()
            session[SESSION_KEY] = reg.public_id
            return redirect(url_for("enrollment.prove"), code=303)
    locale = page_locale()
    return render_template(
        "enrollment/identity.html",
        errors=errors,
        error_fields={f for f, _m in errors},
        typed=typed,
        masked=reg.id_doc_masked if reg is not None else "",
        agencies=_agencies(),
        countries=identity.country_names(locale),
        notice_text=(notice.text_th if locale == "th" else notice.text_en) if notice else "",
        notice_version=notice.version if notice else None,
        **steps_context(reg, wizard.IDENTITY),
    ), (400 if errors else 200)


@bp.route("/register/resume/<token>")
def resume(token: str) -> Any:
    """The emailed link: this browser takes up the registration (a fresh browser too)."""
    reg = registration.resume(db_session(), settings(), token)
    if reg is None:
        return render_template("enrollment/resume_invalid.html"), 404
    if current_user.is_authenticated:
        return redirect(url_for("account.home"))
    session[SESSION_KEY] = reg.public_id
    target = reg.step if reg.step in (wizard.PROVE, wizard.DETAILS) else wizard.IDENTITY
    return redirect(url_for(f"enrollment.{target}"), code=303)
