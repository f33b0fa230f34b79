"""Operator console, organisations: list and search them (pending first), create one
with its first admin (A1), approve, suspend and reactivate, the member limit, which
clients and rights it may use, the power-of-attorney review (A1) and an admin's email
(A7). Routes live on the operator blueprint, behind the same guard."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from idp.account.forms import PostForm
from idp.admin import services
from idp.admin.messages import operator_messages, status_confirmation
from idp.admin.views import bp, operator_required
from idp.confirm import confirmation_page, confirmed
from idp.db import session as db_session
from idp.extensions import page_locale
from idp.localized import org_name
from idp.models import Client, ClientScope, Membership, Organization, OrgClient, OrgDocument
from idp.orgs import documents
from idp.orgs import services as org_services
from idp.orgs.entitlements import STATUS_ACTIONS, OrgError

STATUSES = ("pending", "active", "suspended")
CONFIRMED_ACTIONS = ("approve", "suspend")  # reactivating is asked no confirmation


def _org(org_id: int) -> Organization:
    org = db_session().get(Organization, org_id)
    if org is None:
        abort(404)
    return org


def _back_to_org(org_id: int, message: str) -> Any:
    return redirect(url_for("admin.org", org_id=org_id, m=message), code=303)


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
            locale=page_locale(),  # a new admin's invitation: the operator's language
        )
    except OrgError as exc:
        db.rollback()
        return redirect(url_for("admin.orgs", m=exc.code), code=303)
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
    admins = org_services.org_admins(db, org_id)
    members = org_services.member_count(db, org_id)
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
    organisation = _org(org_id)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    db = db_session()
    action = request.form.get("action", "")
    applies = action in STATUS_ACTIONS and organisation.status in STATUS_ACTIONS[action][0]
    if action in CONFIRMED_ACTIONS and applies:  # else the service says it conflicts
        # Approving with no admin or no accepted power of attorney is confirmed with
        # the reasons shown; the "Yes" carries the reasons it was shown, and any new
        # one asks again (issue 9).
        warnings = services.approval_warnings(db, org_id) if action == "approve" else ()
        shown = set(request.form.get("acknowledged", "").split(","))
        if not confirmed() or not set(warnings) <= shown:
            return confirmation_page(
                status_confirmation(action, org_name(organisation, page_locale()), warnings),
                url_for("admin.org", org_id=org_id),
                {"acknowledged": ",".join(warnings)},
            )
    try:
        organisation = services.set_status(db, org_id, action, current_user.id)
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
    """MISSION A7: an admin's email, e.g. an only admin's (the rule:
    idp.orgs.services.change_admin_email)."""
    _org(org_id)
    if not PostForm().validate_on_submit():
        return _back_to_org(org_id, "")
    db = db_session()
    try:
        org_services.change_admin_email(
            db,
            current_app.extensions["idp_settings"],
            org_id,
            user_id,
            request.form.get("email", ""),
            actor=current_user.id,
            as_operator=True,
        )
    except LookupError:  # not a member of this organisation
        db.rollback()
        abort(404)
    except org_services.EmailChangeRefused as exc:
        db.rollback()
        return _back_to_org(org_id, exc.code)
    return _back_to_org(org_id, "email_changed")
