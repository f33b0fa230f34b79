"""The operator console (issue 4): approve and suspend organisations, their member limit
and clients, the power-of-attorney review (A1), an only admin's email (A7), client
scopes with their seat limits and assurance levels, and the audit search across all
organisations. Operators are marked from the CLI only (``idp users set-operator``);
anyone else gets a 404 and an audit record. Needs ``mfa`` like every console."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from idp.account.forms import PostForm
from idp.admin import services
from idp.audit import EXPORT_LIMIT, AuditQuery, AuditTag, query_from_args, record, to_csv
from idp.audit import search as audit_search
from idp.db import session as db_session
from idp.mail import MailError
from idp.mfa.guard import console_step_up
from idp.models import Client, ClientScope, Membership, Organization, OrgClient, OrgDocument, User
from idp.oidc.acr import ACR_LADDER
from idp.orgs import documents
from idp.orgs import services as org_services
from idp.orgs.entitlements import OrgError

bp = Blueprint("admin", __name__, url_prefix="/operator")
STATUSES = ("pending", "active", "suspended")


def operator_required(view):
    @wraps(view)
    @login_required
    def wrapper(**kw: Any) -> Any:
        if not current_user.is_operator:
            db = db_session()
            record(
                db,
                AuditTag.OP_ACCESS_DENIED,
                actor=current_user.id,
                subject=None,
                path=request.path,
            )
            db.commit()
            abort(404)
        return console_step_up() or view(**kw)

    return wrapper


def _org(org_id: int) -> Organization:
    org = db_session().get(Organization, org_id)
    if org is None:
        abort(404)
    return org


def _back_to_org(org_id: int, message: str) -> Any:
    return redirect(url_for("admin.org", org_id=org_id, m=message), code=303)


@bp.route("")
@operator_required
def home() -> Any:
    return redirect(url_for("admin.orgs"))


@bp.route("/orgs")
@operator_required
def orgs() -> Any:
    db = db_session()
    status = request.args.get("status", "")
    text = request.args.get("q", "").strip()[:100]
    members = (
        select(Membership.org_id, func.count().label("n")).group_by(Membership.org_id).subquery()
    )
    stmt = (
        select(Organization, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.org_id == Organization.id)
        .order_by(Organization.status != "pending", Organization.name_th)
        .limit(500)
    )
    if status in STATUSES:
        stmt = stmt.where(Organization.status == status)
    if text:
        # The person's % and _ are letters here, not wildcards.
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Organization.name_th.ilike(like, escape="\\"),
                Organization.name_en.ilike(like, escape="\\"),
                Organization.identifier.ilike(like, escape="\\"),
            )
        )
    return render_template(
        "admin/orgs.html",
        rows=db.execute(stmt).all(),
        status=status,
        q=text,
        statuses=STATUSES,
        form=PostForm(),
        message=operator_messages().get(request.args.get("m", "")),
    )


@bp.route("/orgs", methods=["POST"])
@operator_required
def create_org() -> Any:
    form = request.form
    limit = form.get("member_limit", type=int)
    if not PostForm().validate_on_submit():
        return redirect(url_for("admin.orgs"), code=303)
    db = db_session()
    try:
        organisation, how = services.create_organisation(
            db,
            current_app.extensions["idp_settings"],
            kind=form.get("kind", ""),
            identifier=form.get("identifier", ""),
            name_th=form.get("name_th", "")[:300],
            name_en=form.get("name_en", "")[:300],
            member_limit=limit if limit is not None else 0,
            first_admin=form.get("first_admin", "")[:254],
            actor=current_user.id,
        )
    except OrgError as exc:
        db.rollback()
        return redirect(url_for("admin.orgs", m=exc.code), code=303)
    except MailError:
        db.rollback()
        return redirect(url_for("admin.orgs", m="mail_failed"), code=303)
    except IntegrityError:  # another operator created the same identifier just now
        db.rollback()
        return redirect(url_for("admin.orgs", m="identifier_taken"), code=303)
    db.commit()
    return _back_to_org(organisation.id, f"created_{how}")


@bp.route("/orgs/<int:org_id>")
@operator_required
def org(org_id: int) -> Any:
    db = db_session()
    organisation = _org(org_id)
    admins = list(
        db.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == "admin")
            .order_by(User.username)
        )
    )
    members = db.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org_id)
    )
    allowed = {
        r.client_id: r.scopes
        for r in db.scalars(select(OrgClient).where(OrgClient.org_id == org_id))
    }
    scopes: dict[str, list[ClientScope]] = {}
    for scope in db.scalars(select(ClientScope).order_by(ClientScope.name)):
        scopes.setdefault(scope.client_id, []).append(scope)
    return render_template(
        "admin/org.html",
        org=organisation,
        admins=admins,
        members=members,
        clients=list(db.scalars(select(Client).order_by(Client.name))),
        allowed=allowed,
        scopes=scopes,
        documents=documents.history(db, org_id),
        form=PostForm(),
        message=operator_messages().get(request.args.get("m", "")),
    )


@bp.route("/orgs/<int:org_id>/status", methods=["POST"])
@operator_required
def set_status(org_id: int) -> Any:
    _org(org_id)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    db = db_session()
    try:
        organisation = services.set_status(
            db, org_id, request.form.get("action", ""), current_user.id
        )
    except OrgError as exc:
        db.rollback()
        return _back_to_org(org_id, exc.code)
    db.commit()
    services.notify_status(db, current_app.extensions["idp_settings"], organisation)
    return _back_to_org(org_id, "saved")


@bp.route("/orgs/<int:org_id>/limit", methods=["POST"])
@operator_required
def set_limit(org_id: int) -> Any:
    _org(org_id)
    limit = request.form.get("member_limit", type=int)
    if not PostForm().validate_on_submit() or limit is None:
        return _back_to_org(org_id, "limit_invalid")
    db = db_session()
    try:
        services.set_member_limit(db, org_id, limit, current_user.id)
    except OrgError as exc:
        db.rollback()
        return _back_to_org(org_id, exc.code)
    db.commit()
    return _back_to_org(org_id, "saved")


@bp.route("/orgs/<int:org_id>/clients", methods=["POST"])
@operator_required
def set_clients(org_id: int) -> Any:
    _org(org_id)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    db = db_session()
    try:
        allowance = {
            c: request.form.getlist(f"scope:{c}") for c in request.form.getlist("client_id")
        }
        services.set_clients(db, org_id, allowance, current_user.id)
    except LookupError:
        db.rollback()
        abort(400)
    db.commit()
    return _back_to_org(org_id, "saved")


@bp.route("/orgs/<int:org_id>/documents/<int:doc_id>")
@operator_required
def document(org_id: int, doc_id: int) -> Response:
    organisation = _org(org_id)
    doc = db_session().scalar(
        select(OrgDocument).where(OrgDocument.id == doc_id, OrgDocument.org_id == org_id)
    )
    if doc is None:
        abort(404)
    return Response(doc.content, 200, documents.download_headers(doc, organisation.identifier))


@bp.route("/orgs/<int:org_id>/documents/<int:doc_id>/review", methods=["POST"])
@operator_required
def review_document(org_id: int, doc_id: int) -> Any:
    _org(org_id)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    db = db_session()
    try:
        services.review_document(
            db, org_id, doc_id, request.form.get("verdict", ""), current_user.id
        )
    except LookupError:
        db.rollback()
        abort(404)
    db.commit()
    return _back_to_org(org_id, "saved")


@bp.route("/orgs/<int:org_id>/members/<int:user_id>/email", methods=["POST"])
@operator_required
def change_email(org_id: int, user_id: int) -> Any:
    """MISSION A7: with a single admin, only an operator changes the admin's email."""
    organisation = _org(org_id)
    db = db_session()
    member = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if member is None:
        abort(404)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    try:
        old = org_services.change_email(
            db,
            user_id,
            request.form.get("email", ""),
            actor=current_user.id,
            org_id=org_id,
            tag=AuditTag.OP_EMAIL_CHANGED,
        )
    except org_services.EmailChangeRefused as exc:
        db.rollback()
        return _back_to_org(org_id, exc.code)
    db.commit()
    org_services.notify_email_change(
        current_app.extensions["idp_settings"], db.get(User, user_id), old, organisation
    )
    return _back_to_org(org_id, "email_changed")


@bp.route("/clients")
@operator_required
def clients() -> Any:
    db = db_session()
    scopes: dict[str, list[ClientScope]] = {}
    for scope in db.scalars(select(ClientScope).order_by(ClientScope.name)):
        scopes.setdefault(scope.client_id, []).append(scope)
    return render_template(
        "admin/clients.html",
        clients=list(db.scalars(select(Client).order_by(Client.name))),
        scopes=scopes,
        levels=ACR_LADDER,
        form=PostForm(),
        message=operator_messages().get(request.args.get("m", "")),
    )


def _scope_fields() -> dict[str, Any] | None:
    """The scope form's values, or None when the seat limit is not a whole number."""
    form = request.form
    raw_limit = form.get("seat_limit", "").strip()
    if raw_limit and not raw_limit.isdigit():
        return None
    return {
        "seat_limit": int(raw_limit) if raw_limit else None,
        "min_acr": form.get("min_acr", ""),
        "description_th": form.get("description_th", "").strip()[:500],
        "description_en": form.get("description_en", "").strip()[:500],
    }


def _back_to_clients(message: str) -> Any:
    return redirect(url_for("admin.clients", m=message), code=303)


@bp.route("/scopes/<int:scope_id>", methods=["POST"])
@operator_required
def update_scope(scope_id: int) -> Any:
    fields = _scope_fields()
    if not PostForm().validate_on_submit() or fields is None:
        return _back_to_clients("limit_invalid")
    db = db_session()
    try:
        services.update_scope(db, scope_id, actor=current_user.id, **fields)
    except LookupError:
        db.rollback()
        abort(404)
    except ValueError as exc:  # OrgError is a ValueError too
        db.rollback()
        return _back_to_clients(exc.code if isinstance(exc, OrgError) else "level_invalid")
    db.commit()
    return _back_to_clients("saved")


@bp.route("/clients/<client_id>/scopes", methods=["POST"])
@operator_required
def declare_scope(client_id: str) -> Any:
    fields = _scope_fields()
    if not PostForm().validate_on_submit() or fields is None:
        return _back_to_clients("limit_invalid")
    db = db_session()
    try:
        services.declare_scope(
            db, client_id, request.form.get("name", "").strip(), actor=current_user.id, **fields
        )
    except LookupError:
        db.rollback()
        abort(404)
    except ValueError as exc:
        db.rollback()
        return _back_to_clients(exc.code if isinstance(exc, OrgError) else "level_invalid")
    db.commit()
    return _back_to_clients("scope_added")


def _audit_query(limit: int = 1000) -> tuple[AuditQuery, dict[str, str]]:
    org_identifier = request.args.get("org", "").strip()[:32]
    org_id = None
    if org_identifier:
        found = db_session().scalar(
            select(Organization.id).where(Organization.identifier == org_identifier)
        )
        org_id = found if found is not None else -1  # unknown organisation: no rows
    query, values = query_from_args(request.args, org_id, limit)
    return query, {"org": org_identifier, **values}


@bp.route("/audit")
@operator_required
def audit() -> Any:
    query, args = _audit_query()
    return render_template(
        "admin/audit.html",
        rows=audit_search(db_session(), query),
        args=args,
        tags=[t.value for t in AuditTag],
    )


@bp.route("/audit.csv")
@operator_required
def audit_csv() -> Response:
    query, _args = _audit_query(EXPORT_LIMIT)
    return Response(
        to_csv(audit_search(db_session(), query)),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="audit.csv"',
        },
    )


def operator_messages() -> dict[str, str]:
    return {
        "saved": _("Saved."),
        "status_conflict": _("That change does not apply to the organisation's current status."),
        "limit_invalid": _("Enter a whole number of at least 1."),
        "limit_below_usage": _(
            "The limit is below what is already in use. Ask the organisation to remove "
            "people first, or choose a higher limit."
        ),
        "level_invalid": _("Choose one of the listed assurance levels."),
        "created_added": _("Organisation created; its first admin can use the console now."),
        "created_invited": _(
            "Organisation created; its first admin was invited by email (link valid 72 hours)."
        ),
        "mail_failed": _(
            "We could not send the invitation email, so nothing was created. Try again in a "
            "few minutes."
        ),
        "name_missing": _("Enter the organisation's Thai name."),
        "admin_invalid": _("Enter the first admin's username or a valid email address."),
        "invalid_identifier": _(
            "The identifier is not valid: a company has a 13-digit juristic ID with its check "
            "digit, an agency a code of 2 to 32 letters, digits or dashes."
        ),
        "identifier_taken": _("An organisation with that identifier already exists."),
        "scope_added": _("Right added."),
        "scope_exists": _("The client already declares a right with that name."),
        "scope_name_invalid": _(
            "A right is named application:right in lower-case letters, digits and "
            "dashes, for example einvoice:submit."
        ),
        "email_changed": _("Email changed. Both addresses were notified."),
        "email_invalid": _("That email address is not valid."),
        "email_taken": _("Another account already uses that email address."),
    }
