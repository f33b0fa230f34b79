"""The org admin console (issue 4): members, their client scopes within seat limits,
and the admin role. Needs ``mfa`` (issue 3: consoles always do). Every route is scoped
to an organisation the signed-in person administers; any other id is a 404 and the
attempt is audited (SECURITY.md E-01)."""

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
from flask_login import current_user, login_required
from sqlalchemy import select

from idp.account.forms import PostForm
from idp.audit import EXPORT_LIMIT, AuditTag, query_from_args, record, to_csv
from idp.audit import search as audit_search
from idp.confirm import confirmation_page, confirmed
from idp.db import session as db_session
from idp.extensions import page_locale
from idp.localized import org_name
from idp.mfa.guard import console_step_up
from idp.models import (
    Entitlement,
    Membership,
    Organization,
    User,
)
from idp.orgs import invitations, services
from idp.orgs.entitlements import LastAdmin, OrgError, SeatLimitReached
from idp.orgs.messages import console_messages, remove_member_confirmation

bp = Blueprint("console", __name__, url_prefix="/orgs/<int:org_id>/admin")


def org_admin(view):
    @wraps(view)
    @login_required
    def wrapper(org_id: int, **kw: Any) -> Any:
        db = db_session()
        if not services.is_org_admin(db, org_id, current_user.id):
            record(
                db,
                AuditTag.ORG_ACCESS_DENIED,
                actor=current_user.id,
                subject=None,
                org=org_id,
                path=request.path,
            )
            db.commit()
            abort(404)  # no existence leak
        org = db.get(Organization, org_id)
        if org.status in NOT_APPROVED:
            return _not_approved(org)
        step_up = console_step_up("org_console")
        if step_up is not None:
            return step_up
        return view(org, **kw)

    return wrapper


# A self-registered company's admin waits for the operator (issue 10, SECURITY.md R-05).
NOT_APPROVED = ("pending", "rejected")


def _not_approved(org: Organization) -> Any:
    application_url = None
    if "companies.application" in current_app.view_functions:
        application_url = url_for("companies.application", org_id=org.id)
    return render_template("orgs/pending.html", org=org, application_url=application_url), 403


def _back(org: Organization, message: str | None = None) -> Any:
    return redirect(url_for("console.overview", org_id=org.id, m=message), code=303)


def _member(org: Organization, user_id: int) -> Membership:
    m = db_session().scalar(
        select(Membership).where(Membership.org_id == org.id, Membership.user_id == user_id)
    )
    if m is None:
        abort(404)
    return m


@bp.route("")
@org_admin
def overview(org: Organization) -> Any:
    db = db_session()
    members = db.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id)
        .order_by(User.username)
    ).all()
    scopes = services.grantable_scopes(db, org.id)
    held = {
        (e.membership_id, e.scope_id)
        for e in db.scalars(
            select(Entitlement)
            .join(Membership, Membership.id == Entitlement.membership_id)
            .where(Membership.org_id == org.id)
        )
    }
    usage = {s.id: services.seat_usage(db, org.id, s.id) for s in scopes}
    admin_count = len(services.org_admins(db, org.id))
    return render_template(
        "orgs/console.html",
        invitations=invitations.open_invitations(db, org.id),
        org=org,
        members=members,
        scopes=scopes,
        held=held,
        usage=usage,
        admin_count=admin_count,
        form=PostForm(),
        message=console_messages().get(request.args.get("m", "")),
    )


@bp.route("/members", methods=["POST"])
@org_admin
def add_member(org: Organization) -> Any:
    """Add a member by email: the same invitation, and the same answer, as /invite
    (whether the address has an account is never shown: SECURITY.md E-02, A-02)."""
    if not PostForm().validate_on_submit():
        return _back(org)
    return _invite(org, request.form.get("email") or request.form.get("who", ""))


@bp.route("/members/<int:user_id>/remove", methods=["POST"])
@org_admin
def remove_member(org: Organization, user_id: int) -> Any:
    _member(org, user_id)
    if not PostForm().validate_on_submit():
        return _back(org)
    if not confirmed():
        person = db_session().get(User, user_id)
        return confirmation_page(
            remove_member_confirmation(
                person.name or person.username, org_name(org, page_locale())
            ),
            url_for("console.overview", org_id=org.id),
        )
    try:
        services.remove_member(db_session(), org.id, user_id, actor=current_user.id)
    except LastAdmin:
        db_session().rollback()
        return _back(org, "last_admin")
    db_session().commit()
    return _back(org, "member_removed")


@bp.route("/members/<int:user_id>/role", methods=["POST"])
@org_admin
def set_role(org: Organization, user_id: int) -> Any:
    _member(org, user_id)
    role = request.form.get("role")
    if not PostForm().validate_on_submit() or role not in ("member", "admin"):
        return _back(org)  # E-04: anything but these two roles is ignored
    try:
        services.set_role(db_session(), org.id, user_id, role, actor=current_user.id)
    except LastAdmin:
        db_session().rollback()
        return _back(org, "last_admin")
    db_session().commit()
    return _back(org, "role_changed")


@bp.route("/members/<int:user_id>/scopes/<int:scope_id>", methods=["POST"])
@org_admin
def change_scope(org: Organization, user_id: int, scope_id: int) -> Any:
    _member(org, user_id)
    if not PostForm().validate_on_submit():
        return _back(org)
    db = db_session()
    try:
        if request.form.get("action") == "grant":
            services.grant_scope(db, org.id, user_id, scope_id, actor=current_user.id)
        else:
            services.revoke_scope(db, org.id, user_id, scope_id, actor=current_user.id)
    except SeatLimitReached:
        db.rollback()
        return _back(org, "seat_limit_reached")
    except (LookupError, OrgError):
        db.rollback()
        abort(404)  # E-03: a scope of a client this organisation may not use
    db.commit()
    return _back(org, "saved")


# The actions filed under an organisation (record(..., org=...)): its admins' and the
# operators' decisions about it.
ORG_TRAIL_TAGS = {t for t in AuditTag if t.value.startswith(("org:", "op:org:", "company:"))} | {
    AuditTag.OP_DOCUMENT_REVIEWED,
    AuditTag.OP_EMAIL_CHANGED,
}


def _audit_rows(org: Organization, limit: int = 1000) -> tuple[list, dict]:
    """This organisation's audit trail, newest first, filtered like the operator's."""
    zone = current_app.extensions["idp_settings"].zone  # the days the table shows
    query, values = query_from_args(request.args, org.id, limit, zone)
    return audit_search(db_session(), query), values


@bp.route("/audit")
@org_admin
def audit(org: Organization) -> Any:
    rows, values = _audit_rows(org)
    return render_template(
        "orgs/audit.html",
        org=org,
        rows=rows,
        tags=[t.value for t in AuditTag if t in ORG_TRAIL_TAGS],
        args=values,
    )


@bp.route("/audit.csv")
@org_admin
def audit_csv(org: Organization) -> Response:
    return Response(
        to_csv(
            _audit_rows(org, EXPORT_LIMIT)[0],
            page_locale(),
            current_app.extensions["idp_settings"].zone,
        ),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="audit-{org.identifier}.csv"',
        },
    )


@bp.route("/members/<int:user_id>/email", methods=["POST"])
@org_admin
def change_admin_email(org: Organization, user_id: int) -> Any:
    """MISSION A7: another admin's email (the rule: services.change_admin_email)."""
    _member(org, user_id)
    if not PostForm().validate_on_submit():
        return _back(org, "email_not_allowed")
    db = db_session()
    try:
        services.change_admin_email(
            db,
            current_app.extensions["idp_settings"],
            org.id,
            user_id,
            request.form.get("email", ""),
            actor=current_user.id,
            as_operator=False,
        )
    except services.EmailChangeRefused as exc:
        db.rollback()
        return _back(org, exc.code)
    return _back(org, "email_changed")


@bp.route("/invite", methods=["POST"])
@org_admin
def invite(org: Organization) -> Any:
    """Invite a person by email (a one-time link valid 72 hours); a person with an
    account accepts after signing in (idp/orgs/invitations.py)."""
    if not PostForm().validate_on_submit():
        return _back(org)
    return _invite(org, request.form.get("email", ""))


def _invite(org: Organization, email: str) -> Any:
    try:
        invitations.invite(
            db_session(),
            current_app.extensions["idp_settings"],
            org,
            email,
            current_user.id,
            locale=page_locale(),  # for a person without an account: the admin's language
        )
    except invitations.InvitationError as exc:
        db_session().rollback()
        return _back(org, exc.code)
    db_session().commit()
    return _back(org, "invited")


@bp.route("/invitations/<int:invitation_id>/withdraw", methods=["POST"])
@org_admin
def withdraw_invitation(org: Organization, invitation_id: int) -> Any:
    if not PostForm().validate_on_submit():
        return _back(org)
    try:
        invitations.withdraw(db_session(), org.id, invitation_id, current_user.id)
    except LookupError:
        db_session().rollback()
        abort(404)
    db_session().commit()
    return _back(org, "invitation_withdrawn")
