"""Company self-registration pages (issue 10, MISSION A1): a four-step wizard in the
sign-in layout, the "submitted" page and the applicant's own application page.

The draft lives in a ``Registration`` of kind "company" whose public id the browser
session holds (``companies.registration``), so what was typed survives signing in or
creating an account on the way (steps 1 and 2 need no account; 3 and 4 do). Every POST
is rate limited per IP (IDP_REGISTRATION_RATE_LIMIT, R-08)."""

from __future__ import annotations

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
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from idp.account.forms import PostForm
from idp.companies import services
from idp.companies.messages import (
    address_field_labels,
    office_labels,
    page_messages,
    problem_text,
    step_labels,
)
from idp.db import session as db_session
from idp.extensions import csrf, limiter, page_locale
from idp.orgs import documents
from idp.orgs.addresses import ADDRESS_FIELDS, CONTACT_FIELDS

bp = Blueprint("companies", __name__, url_prefix="/register/company")
DRAFT_KEY = "companies.registration"
# The whole multipart body may exceed the file limit by the form fields and boundaries.
UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 64 * 1024


def _registration_limit() -> str:
    return current_app.extensions["idp_settings"].registration_rate_limit


limited = limiter.limit(_registration_limit, methods=["POST"])


def _draft(create: bool = False) -> Any:
    """This browser's company draft (not yet submitted), a new one when ``create``."""
    db = db_session()
    draft = services.load_draft(db, session.get(DRAFT_KEY))
    if draft is not None and draft.status == "draft":
        return draft
    if not create:
        return None
    draft = services.new_draft(db, request.remote_addr, page_locale())
    session[DRAFT_KEY] = draft.public_id
    return draft


def _problems(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(field, problem_text(code, field)) for field, code in problems]


def _page(template: str, step: str, status: int = 200, **context: Any) -> Any:
    steps = step_labels()
    return render_template(
        template,
        steps=steps,
        current=step,
        form=PostForm(),
        errors=context.pop("errors", []),
        address_labels_=address_field_labels(),
        offices=office_labels(),
        address_fields=ADDRESS_FIELDS,
        contact_fields=CONTACT_FIELDS,
        document_limit_mb=documents.MAX_BYTES // (1024 * 1024),
        **context,
    ), status


def _typed_company(base: services.Company) -> services.Company:
    """The address-and-contact fields of the posted form over ``base``."""
    f = request.form
    return services.Company(
        identifier=base.identifier,
        name_th=f.get("name_th", base.name_th).strip()[:300],
        name_en=f.get("name_en", base.name_en).strip()[:300],
        office=f.get("office", ""),
        branch_no=f.get("branch_no", "").strip()[:5],
        address={k: f.get(k, "").strip()[:300] for k in ADDRESS_FIELDS},
        contact={k: f.get(k, "").strip()[:254] for k in CONTACT_FIELDS},
    )


@bp.route("", methods=["GET", "POST"])
@limited
def start() -> Any:
    """Step 1: juristic ID and names. No account needed yet."""
    draft = _draft()
    company = services.Company.of(draft.data if draft is not None else {})
    if request.method == "POST":
        if not PostForm().validate_on_submit():
            return redirect(url_for("companies.start"), code=303)
        typed = services.Company(
            **{
                **company.data(),
                "identifier": request.form.get("juristic_id", "").strip()[:32],
                "name_th": request.form.get("name_th", "").strip()[:300],
                "name_en": request.form.get("name_en", "").strip()[:300],
            }
        )
        identifier, problems = services.check_names(typed.identifier, typed.name_th, typed.name_en)
        if problems:
            return _page(
                "companies/start.html", "start", 400, company=typed, errors=_problems(problems)
            )
        draft = _draft(create=True)
        services.save_draft(
            draft, services.Company(**{**typed.data(), "identifier": identifier}), "address"
        )
        db_session().commit()
        return redirect(url_for("companies.address"), code=303)
    return _page("companies/start.html", "start", company=company)


@bp.route("/address", methods=["GET", "POST"])
@limited
def address() -> Any:
    """Step 2: head-office or branch address and the contact data."""
    draft = _draft()
    if draft is None:
        return redirect(url_for("companies.start"), code=303)
    company = services.Company.of(draft.data)
    if request.method == "POST":
        if not PostForm().validate_on_submit():
            return redirect(url_for("companies.address"), code=303)
        typed = _typed_company(company)
        problems = services.check_address(typed)
        if problems:
            return _page(
                "companies/address.html", "address", 400, company=typed, errors=_problems(problems)
            )
        services.save_draft(draft, typed, "admin")
        db_session().commit()
        return redirect(url_for("companies.admin"), code=303)
    return _page("companies/address.html", "address", company=company)


@bp.route("/admin")
def admin() -> Any:
    """Step 3: the first admin is the person signed in; otherwise sign in or create an
    account, and come back here (the draft waits in the session)."""
    draft = _draft()
    if draft is None:
        return redirect(url_for("companies.start"), code=303)
    back = url_for("companies.admin")
    create_url = None
    if "enrollment.start" in current_app.view_functions:
        create_url = url_for("enrollment.start", next=back)
    return _page(
        "companies/admin.html",
        "admin",
        login_url=url_for("account.login", next=back),
        create_url=create_url,
    )


@bp.route("/submit", methods=["GET", "POST"])
@csrf.exempt  # checked below, after the body limit is raised for this one route
@limited
def submit() -> Any:
    """Step 4: the power of attorney, and submit. Needs the signed-in first admin."""
    db = db_session()
    done = services.load_draft(db, session.get(DRAFT_KEY))
    if done is not None and done.status == "done":
        return redirect(url_for("companies.submitted"), code=303)  # double submission
    draft = _draft()
    if draft is None:
        return redirect(url_for("companies.start"), code=303)
    if not current_user.is_authenticated:
        return redirect(url_for("companies.admin"), code=303)
    if request.method != "POST":
        return _page("companies/submit.html", "submit", company=services.Company.of(draft.data))
    request.max_content_length = UPLOAD_BODY_LIMIT
    company = services.Company.of(draft.data)
    try:
        valid = PostForm().validate_on_submit()
        file = request.files.get("document")
    except RequestEntityTooLarge:
        errors = [("document", problem_text("document_too_large"))]
        return _page("companies/submit.html", "submit", 413, company=company, errors=errors)
    if not valid:
        return redirect(url_for("companies.submit"), code=303)
    data = file.read(documents.MAX_BYTES + 1) if file else b""
    try:
        services.submit(db, draft, current_user, data, file.filename if file else "")
    except services.CompanyError as exc:
        db.rollback()
        return redirect(url_for(f"companies.{exc.field}"), code=303)
    except documents.DocumentError as exc:
        db.rollback()
        errors = [("document", problem_text(exc.code))]
        return _page("companies/submit.html", "submit", exc.status, company=company, errors=errors)
    db.commit()
    return redirect(url_for("companies.submitted"), code=303)


@bp.route("/submitted")
def submitted() -> Any:
    """The same answer whether or not the juristic ID was already on file (R-01)."""
    return render_template("companies/submitted.html")


@bp.route("/<int:org_id>", methods=["GET", "POST"])
@csrf.exempt  # checked below, after the body limit is raised for this one route
@limited
@login_required
def application(org_id: int) -> Any:
    """The applicant's registration: its state, the operator's reason or question, and
    (after a rejection or a question) the correction form with a new upload. Only for
    an admin of the not-yet-approved organisation; anyone else gets 404 (R-08)."""
    db = db_session()
    org = services.application(db, org_id, current_user.id)
    if org is None:
        abort(404)
    item = services.latest_item(db, org.id)
    context = {
        "org": org,
        "item": item,
        "may_resubmit": services.may_resubmit(db, org),
        "message": page_messages().get(request.args.get("m", "")),
    }
    company = services.current_company(org)
    if request.method != "POST":
        return _page("companies/application.html", "", company=company, **context)
    request.max_content_length = UPLOAD_BODY_LIMIT
    try:
        valid = PostForm().validate_on_submit()
        file = request.files.get("document")
    except RequestEntityTooLarge:
        errors = [("document", problem_text("document_too_large"))]
        return _page(
            "companies/application.html", "", 413, company=company, errors=errors, **context
        )
    if not valid:
        return redirect(url_for("companies.application", org_id=org.id), code=303)
    typed = _typed_company(company)
    problems = services.check_names(org.identifier, typed.name_th, typed.name_en)[1]
    problems += services.check_address(typed)
    data = file.read(documents.MAX_BYTES + 1) if file and file.filename else b""
    if problems:
        return _page(
            "companies/application.html",
            "",
            400,
            company=typed,
            errors=_problems(problems),
            **context,
        )
    try:
        services.resubmit(db, org, current_user, typed, data, file.filename if file else "")
    except services.CompanyError as exc:
        db.rollback()
        if exc.code == "not_resubmittable":
            return _page(
                "companies/application.html",
                "",
                409,
                company=typed,
                errors=[(None, page_messages()[exc.code])],
                **context,
            )
        errors = [
            (exc.field or None, problem_text(exc.code) if exc.field else page_messages()[exc.code])
        ]
        return _page("companies/application.html", "", 400, company=typed, errors=errors, **context)
    except documents.DocumentError as exc:
        db.rollback()
        errors = [("document", problem_text(exc.code))]
        return _page(
            "companies/application.html", "", exc.status, company=typed, errors=errors, **context
        )
    db.commit()
    return redirect(url_for("companies.application", org_id=org.id, m="resubmitted"), code=303)
