"""The org admin console (issue 4): members, their client scopes within seat limits,
and the admin role. Needs ``mfa`` (issue 3: consoles always do). Every route is scoped
to an organisation the signed-in person administers; any other id is a 404 and the
attempt is audited (SECURITY.md E-01)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import UTC, datetime
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

from idp.account import auth_state
from idp.account.forms import PostForm
from idp.account.identifiers import email_key, is_valid_email, username_key
from idp.audit import AuditTag, record
from idp.db import now
from idp.db import session as db_session
from idp.mail import MailError, send_mail
from idp.mfa import policy
from idp.mfa.services import enrolled_kinds
from idp.models import (
    AuditEvent,
    ClientScope,
    Entitlement,
    Membership,
    Organization,
    OrgClient,
    User,
)
from idp.oidc import flows
from idp.oidc.acr import ACR_MFA
from idp.orgs import invitations, services
from idp.orgs.entitlements import LastAdmin, MemberLimitReached, OrgError, SeatLimitReached

bp = Blueprint("console", __name__, url_prefix="/orgs/<int:org_id>/admin")
CONSOLE_MAX_AGE = 12 * 3600  # SECURITY.md 7: admin consoles, 12 h absolute


def _step_up_needed() -> Any | None:
    """Redirect to the missing factor, or None when the session is at ``mfa``."""
    t = now()
    decision = policy.decide(
        policy.Requirement(client_min=ACR_MFA, email_allowed=False, max_age=CONSOLE_MAX_AGE),
        policy.SessionAuth(auth_state.factors(), enrolled_kinds(db_session(), current_user.id, t)),
        t,
    )
    if decision.satisfied:
        return None
    flow_id = flows.start_step_up(request.path, decision.required, list(decision.factors))
    endpoint = {"password": "account.login", "enrol": "mfa.enrol"}.get(
        decision.next_step or "", "mfa.challenge"
    )
    return redirect(url_for(endpoint, flow=flow_id), code=303)


def org_admin(view):
    @wraps(view)
    @login_required
    def wrapper(org_id: int, **kw: Any) -> Any:
        db = db_session()
        m = db.scalar(
            select(Membership).where(
                Membership.org_id == org_id,
                Membership.user_id == current_user.id,
                Membership.role == "admin",
            )
        )
        if m is None:
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
        step_up = _step_up_needed()
        if step_up is not None:
            return step_up
        return view(db.get(Organization, org_id), **kw)

    return wrapper


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
    scopes = list(
        db.scalars(
            select(ClientScope)
            .join(OrgClient, OrgClient.client_id == ClientScope.client_id)
            .where(OrgClient.org_id == org.id)
            .order_by(ClientScope.name)
        )
    )
    held = {
        (e.membership_id, e.scope_id)
        for e in db.scalars(
            select(Entitlement)
            .join(Membership, Membership.id == Entitlement.membership_id)
            .where(Membership.org_id == org.id)
        )
    }
    usage = {s.id: services.seat_usage(db, org.id, s.id) for s in scopes}
    admin_count = sum(1 for m, _u in members if m.role == "admin")
    return render_template(
        "orgs/console.html",
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
    if not PostForm().validate_on_submit():
        return _back(org)
    who = request.form.get("who", "").strip()
    user = db_session().scalar(
        select(User).where(
            or_(User.username_key == username_key(who), User.email_key == email_key(who))
        )
    )
    if user is None:
        return _back(org, "no_such_account")
    try:
        services.add_member(db_session(), org.id, user, actor=current_user.id)
    except MemberLimitReached:
        db_session().rollback()
        return _back(org, "member_limit_reached")
    db_session().commit()
    return _back(org, "member_added")


@bp.route("/members/<int:user_id>/remove", methods=["POST"])
@org_admin
def remove_member(org: Organization, user_id: int) -> Any:
    _member(org, user_id)
    if not PostForm().validate_on_submit():
        return _back(org)
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


def console_messages() -> dict[str, str]:
    return {
        "no_such_account": _(
            "No account has that username or email. The person must register first."
        ),
        "member_limit_reached": _("The organisation has reached its member limit."),
        "member_added": _("Member added."),
        "member_removed": _(
            "Member removed. Their sessions and tokens for this "
            "organisation's applications have ended."
        ),
        "last_admin": _("The organisation needs at least one admin: add the successor first."),
        "role_changed": _("Role changed."),
        "seat_limit_reached": _(
            "All seats for this right are in use. Revoke it from someone first."
        ),
        "saved": _("Saved."),
        "invited": _("Invitation sent. The link works once, within 72 hours."),
        "email_has_account": _("That address already has an account: add it as a member instead."),
        "mail_failed": _("We could not send the email. Try again in a few minutes."),
        "email_changed": _("Email changed. Both addresses were notified."),
        "email_invalid": _("That email address is not valid."),
        "email_taken": _("Another account already uses that email address."),
        "email_not_allowed": _(
            "Only another admin's email can be changed here, and only when "
            "the organisation has at least two admins. Otherwise ask a "
            "platform operator."
        ),
    }


def _audit_rows(org: Organization) -> list:
    """This organisation's audit trail, newest first, optionally filtered by ?tag=."""
    actor, subject = User.__table__.alias("actor"), User.__table__.alias("subject")
    stmt = (
        select(AuditEvent, actor.c.username, subject.c.username)
        .outerjoin(actor, actor.c.id == AuditEvent.actor_user_id)
        .outerjoin(subject, subject.c.id == AuditEvent.subject_user_id)
        .where(AuditEvent.org_id == org.id)
        .order_by(AuditEvent.id.desc())
        .limit(1000)
    )
    tag = request.args.get("tag", "")
    if tag:
        stmt = stmt.where(AuditEvent.tag == tag)
    return db_session().execute(stmt).all()


@bp.route("/audit")
@org_admin
def audit(org: Organization) -> Any:
    return render_template(
        "orgs/audit.html",
        org=org,
        rows=_audit_rows(org),
        tags=[t.value for t in AuditTag if t.value.startswith("org:")],
        tag=request.args.get("tag", ""),
    )


@bp.route("/audit.csv")
@org_admin
def audit_csv(org: Organization) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["when_utc", "action", "by", "whom", "ip", "details"])
    for event, by, whom in _audit_rows(org):
        when = datetime.fromtimestamp(event.at, UTC).isoformat()
        writer.writerow(
            [
                when,
                event.tag,
                by or "",
                whom or "",
                event.ip or "",
                json.dumps(event.details, ensure_ascii=False),
            ]
        )
    return Response(
        out.getvalue().encode("utf-8-sig"),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="audit-{org.identifier}.csv"',
        },
    )


@bp.route("/members/<int:user_id>/email", methods=["POST"])
@org_admin
def change_admin_email(org: Organization, user_id: int) -> Any:
    """MISSION A7: an admin may change another admin's email when the organisation has at
    least two admins; with a single admin only a platform operator can."""
    target = _member(org, user_id)
    db = db_session()
    admins = db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org.id, Membership.role == "admin")
    )
    if not PostForm().validate_on_submit() or target.role != "admin" or admins < 2:
        return _back(org, "email_not_allowed")
    new = request.form.get("email", "")
    if not is_valid_email(new):
        return _back(org, "email_invalid")
    user = db.get(User, user_id)
    clash = db.scalar(select(User).where(User.email_key == email_key(new), User.id != user_id))
    if clash is not None:
        return _back(org, "email_taken")
    old = user.email
    user.email, user.email_key, user.email_verified, user.updated_at = (
        new.strip(),
        email_key(new),
        False,
        now(),
    )
    record(
        db,
        AuditTag.ORG_ADMIN_EMAIL_CHANGED,
        actor=current_user.id,
        subject=user_id,
        org=org.id,
        before=old,
        after=user.email,
    )
    db.commit()
    settings = current_app.extensions["idp_settings"]
    for address in (old, user.email):
        with contextlib.suppress(MailError):  # best effort: the change is audited anyway
            send_mail(
                settings.smtp_url,
                settings.mail_from,
                address,
                "Your email was changed",
                f"The email of the account {user.username} was changed from {old} to "
                f"{user.email} by an administrator of {org.name_th}.",
            )
    return _back(org, "email_changed")


@bp.route("/invite", methods=["POST"])
@org_admin
def invite(org: Organization) -> Any:
    """Invite a new person by email (a one-time link valid 72 hours)."""
    if not PostForm().validate_on_submit():
        return _back(org)
    try:
        invitations.invite(
            db_session(),
            current_app.extensions["idp_settings"],
            org,
            request.form.get("email", ""),
            current_user.id,
        )
    except invitations.InvitationError as exc:
        return _back(org, exc.code)
    except MailError:
        return _back(org, "mail_failed")
    return _back(org, "invited")


ADDRESS_FIELDS = ("address", "district", "province", "postcode", "phone")


@bp.route("/profile", methods=["GET", "POST"])
@org_admin
def profile(org: Organization) -> Any:
    """The organisation edits its own head-office and branch addresses (MISSION A9)."""
    form = PostForm()
    error = None
    if request.method == "POST" and form.validate_on_submit():
        head = {k: request.form.get(k, "").strip()[:300] for k in ADDRESS_FIELDS}
        branches = [
            line.strip()[:300]
            for line in request.form.get("branches", "").splitlines()
            if line.strip()
        ][:50]
        if head["postcode"] and not re.fullmatch(r"\d{5}", head["postcode"]):
            error = _("A Thai postcode has 5 digits.")
        else:
            before = {"head_office": org.head_office, "branches": org.branches}
            org.head_office, org.branches = head, branches
            record(
                db_session(),
                AuditTag.ORG_PROFILE_CHANGED,
                actor=current_user.id,
                subject=None,
                org=org.id,
                before=before,
                after={"head_office": head, "branches": branches},
            )
            db_session().commit()
            return _back(org, "saved")
    return render_template(
        "orgs/profile.html", org=org, form=form, error=error, fields=ADDRESS_FIELDS
    ), (200 if error is None else 400)
