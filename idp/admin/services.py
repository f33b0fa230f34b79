"""Operator decisions on organisations and client scopes. Each runs in the caller's
transaction with its audit record (before/after), under the same per-organisation lock
as the org admin's seat changes, so a limit is never lowered under a racing grant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from idp.account.identifiers import is_valid_email
from idp.account.services import find_login_user
from idp.audit import AuditTag, record
from idp.db import now
from idp.localized import org_name
from idp.mail import recipient_locale
from idp.mfa.services import notify
from idp.models import (
    Client,
    ClientScope,
    Entitlement,
    Grant,
    Membership,
    Organization,
    OrgClient,
    OrgDocument,
)
from idp.oidc.acr import ACR_LADDER
from idp.oidc.revocation import end_grants
from idp.orgs import documents, invitations
from idp.orgs import entitlements as rules
from idp.orgs.services import (
    add_member,
    add_scope,
    create_org,
    lock_org,
    member_count,
    org_admins,
    seat_usage,
)


class CreateRefused(rules.OrgError):
    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


def create_organisation(
    db: Session,
    settings: Any,
    *,
    kind: str,
    identifier: str,
    name_th: str,
    name_en: str,
    member_limit: int,
    first_admin: str,
    actor: int,
    locale: str | None = None,
) -> tuple[Organization, str]:
    """An organisation created by an operator is active at once. Its first admin (A1) is
    an existing account (username or email), or is invited by email to create one.
    Returns the organisation and "added" or "invited" (the invitation mail is queued and
    leaves after the caller commits)."""
    identifier = _new_identifier(
        db, kind=kind, identifier=identifier, name_th=name_th, member_limit=member_limit
    )
    who = first_admin.strip()
    admin = find_login_user(db, who)
    if admin is None and not is_valid_email(who):
        raise CreateRefused("admin_invalid")
    org = _create_active(
        db,
        kind=kind,
        identifier=identifier,
        name_th=name_th,
        name_en=name_en,
        member_limit=member_limit,
        actor=actor,
        subject=admin.id if admin else None,
    )
    if admin is not None:
        add_member(db, org.id, admin, role="admin", actor=actor)
        return org, "added"
    invitations.invite(db, settings, org, who, actor, role="admin", locale=locale)
    return org, "invited"


def register_organisation(
    db: Session,
    *,
    kind: str,
    identifier: str,
    name_th: str,
    name_en: str,
    member_limit: int,
    client_ids: Sequence[str] = (),
    actor: int | None,
) -> Organization:
    """An active organisation without an admin yet (``idp orgs add``; the first one
    comes with ``idp orgs add-member --admin``): the checks and the op:org:created
    record of :func:`create_organisation`, and the clients it may use (with all their
    scopes) through :func:`set_clients`, audited too. Raises CreateRefused,
    LimitOutOfRange, InvalidIdentifier, IdentifierTaken or LookupError (an unknown
    client); the caller rolls back."""
    identifier = _new_identifier(
        db, kind=kind, identifier=identifier, name_th=name_th, member_limit=member_limit
    )
    org = _create_active(
        db,
        kind=kind,
        identifier=identifier,
        name_th=name_th,
        name_en=name_en,
        member_limit=member_limit,
        actor=actor,
        subject=None,
    )
    if client_ids:
        set_clients(db, org.id, dict.fromkeys(client_ids), actor)
    return org


def _new_identifier(
    db: Session, *, kind: str, identifier: str, name_th: str, member_limit: int
) -> str:
    """What every new organisation must pass, whoever registers it; returns the
    normalised identifier."""
    if not name_th.strip():
        raise CreateRefused("name_missing")
    rules.check_new_limit(1, member_limit)
    identifier = rules.check_identifier(kind, identifier)
    if db.scalar(select(Organization.id).where(Organization.identifier == identifier)):
        raise rules.IdentifierTaken(identifier=identifier)
    return identifier


def _create_active(
    db: Session,
    *,
    kind: str,
    identifier: str,
    name_th: str,
    name_en: str,
    member_limit: int,
    actor: int | None,
    subject: int | None,
) -> Organization:
    org = create_org(
        db,
        kind=kind,
        identifier=identifier,
        name_th=name_th,
        name_en=name_en,
        member_limit=member_limit,
        status="active",
    )
    record(
        db,
        AuditTag.OP_ORG_CREATED,
        actor=actor,
        subject=subject,
        org=org.id,
        before=None,
        after={"identifier": identifier, "name_th": org.name_th, "member_limit": member_limit},
    )
    return org


def set_status(db: Session, org_id: int, action: str, actor: int | None) -> Organization:
    """approve / suspend / reactivate. Suspending ends, at once, every token issued to
    anyone acting for the organisation; its members can no longer pick it at login."""
    org = lock_org(db, org_id)
    before = org.status
    org.status = rules.next_status(org.status, action)
    if org.status == "suspended":
        end_grants(db, Grant.org_id == org_id)
    record(
        db,
        AuditTag.OP_ORG_STATUS_CHANGED,
        actor=actor,
        subject=None,
        org=org_id,
        before=before,
        after=org.status,
    )
    return org


def approval_warnings(db: Session, org_id: int) -> tuple[str, ...]:
    """``rules.approval_warnings`` for the organisation as it is now."""
    document = documents.current(db, org_id)
    review = document.review if document is not None else None
    return rules.approval_warnings(len(org_admins(db, org_id)), review)


def notify_status(db: Session, settings: Any, org: Organization) -> None:
    """Tell the organisation's admins it was approved, reactivated or suspended (best
    effort, after the commit: a mail outage never undoes the decision), each in their
    own language, with the organisation's name in it."""
    for admin in org_admins(db, org.id):
        locale = recipient_locale(settings, admin)
        notify(
            settings,
            admin,
            "org_status",
            org=org_name(org, locale),
            identifier=org.identifier,
            status=org.status,
        )


def set_member_limit(db: Session, org_id: int, limit: int, actor: int) -> None:
    org = lock_org(db, org_id)
    rules.check_new_limit(member_count(db, org_id), limit)
    before, org.member_limit = org.member_limit, limit
    record(
        db,
        AuditTag.OP_ORG_LIMIT_CHANGED,
        actor=actor,
        subject=None,
        org=org_id,
        before=before,
        after=limit,
    )


def set_clients(
    db: Session, org_id: int, allowance: dict[str, list[str] | None], actor: int | None
) -> None:
    """Which clients the organisation may use and, per client, which of its scopes
    (None: all). Taking a client or scope away also takes it from the members, so their
    next refresh carries none of it."""
    lock_org(db, org_id)
    declared: dict[str, set[str]] = {}
    for client_id, name in db.execute(
        select(ClientScope.client_id, ClientScope.name).where(ClientScope.client_id.in_(allowance))
    ):
        declared.setdefault(client_id, set()).add(name)
    known = set(db.scalars(select(Client.client_id).where(Client.client_id.in_(allowance))))
    unknown = set(allowance) - known
    bad_scopes = {
        n for c, names in allowance.items() for n in names or () if n not in declared.get(c, ())
    }
    if unknown or bad_scopes:
        raise LookupError(sorted(unknown | bad_scopes))
    # Every declared scope chosen is the same as "all": stored as None so that a scope
    # the client declares later is included too.
    wanted = {
        c: None if names is None or set(names) >= declared.get(c, set()) else sorted(set(names))
        for c, names in allowance.items()
    }
    rows = {r.client_id: r for r in db.scalars(select(OrgClient).where(OrgClient.org_id == org_id))}
    before = {c: r.scopes for c, r in sorted(rows.items())}
    for client_id, scopes in wanted.items():
        if client_id in rows:
            rows[client_id].scopes = scopes
        else:
            db.add(OrgClient(org_id=org_id, client_id=client_id, scopes=scopes))
    removed = set(rows) - set(wanted)
    if removed:
        db.execute(
            delete(OrgClient).where(OrgClient.org_id == org_id, OrgClient.client_id.in_(removed))
        )
    lost = [ClientScope.client_id.in_(removed)] if removed else []
    lost += [
        (ClientScope.client_id == c) & ClientScope.name.not_in(scopes)
        for c, scopes in wanted.items()
        if scopes is not None
    ]
    if lost:
        members = select(Membership.id).where(Membership.org_id == org_id)
        db.execute(
            delete(Entitlement).where(
                Entitlement.scope_id.in_(select(ClientScope.id).where(or_(*lost))),
                Entitlement.membership_id.in_(members),
            )
        )
    after = dict(sorted(wanted.items()))
    if before != after:
        record(
            db,
            AuditTag.OP_ORG_CLIENTS_CHANGED,
            actor=actor,
            subject=None,
            org=org_id,
            before=before,
            after=after,
        )


def update_scope(
    db: Session,
    scope_id: int,
    *,
    seat_limit: int | None,
    min_acr: str,
    description_th: str,
    description_en: str,
    actor: int,
) -> ClientScope:
    scope = db.get(ClientScope, scope_id)
    if scope is None:
        raise LookupError(scope_id)
    if min_acr not in ACR_LADDER:
        raise ValueError(min_acr)
    # Every organisation using the client is locked before seats are counted, which
    # serialises this with their admins' grants (see idp.orgs.services).
    org_ids = list(
        db.scalars(
            select(OrgClient.org_id)
            .where(OrgClient.client_id == scope.client_id)
            .order_by(OrgClient.org_id)
        )
    )
    for org_id in org_ids:
        lock_org(db, org_id)
    used = max((seat_usage(db, org_id, scope_id)[0] for org_id in org_ids), default=0)
    rules.check_new_limit(used, seat_limit)
    fields = ("seat_limit", "min_acr", "description_th", "description_en")
    before = {f: getattr(scope, f) for f in fields}
    scope.seat_limit, scope.min_acr = seat_limit, min_acr
    scope.description_th, scope.description_en = description_th, description_en
    after = {f: getattr(scope, f) for f in fields}
    if before != after:
        record(
            db,
            AuditTag.OP_SCOPE_CHANGED,
            actor=actor,
            subject=None,
            client=scope.client_id,
            scope=scope.name,
            before=before,
            after=after,
        )
    return scope


def declare_scope(
    db: Session,
    client_id: str,
    name: str,
    *,
    seat_limit: int | None,
    min_acr: str,
    description_th: str,
    description_en: str,
    actor: int | None,
) -> ClientScope:
    """A new right of a client (e.g. ``gfmis:approve``); organisations that may use the
    client with all its scopes can grant it at once. The one front door for declaring a
    scope (operator console, ``idp clients add-scope`` with ``actor=None``, the demo).

    Raises InvalidScopeName, LimitOutOfRange (seat limit outside 1..MAX_MEMBER_LIMIT),
    ValueError (unknown level), LookupError (unknown client) or ScopeExists."""
    rules.check_scope_name(name)
    rules.check_new_limit(0, seat_limit)
    if min_acr not in ACR_LADDER:
        raise ValueError(min_acr)
    if db.scalar(select(Client.id).where(Client.client_id == client_id)) is None:
        raise LookupError(client_id)
    if db.scalar(
        select(ClientScope.id).where(ClientScope.client_id == client_id, ClientScope.name == name)
    ):
        raise rules.ScopeExists(name=name)
    scope = add_scope(
        db,
        client_id,
        name,
        description_th=description_th,
        description_en=description_en,
        min_acr=min_acr,
        seat_limit=seat_limit,
    )
    record(
        db,
        AuditTag.OP_SCOPE_ADDED,
        actor=actor,
        subject=None,
        client=client_id,
        scope=name,
        before=None,
        after={"seat_limit": seat_limit, "min_acr": min_acr},
    )
    return scope


def review_document(db: Session, org_id: int, doc_id: int, verdict: str, actor: int) -> None:
    """Accept or reject the organisation's current power-of-attorney document (A1)."""
    doc = db.scalar(
        select(OrgDocument).where(
            OrgDocument.id == doc_id,
            OrgDocument.org_id == org_id,
            OrgDocument.replaced_at.is_(None),
        )
    )
    if doc is None or verdict not in ("accepted", "rejected"):
        raise LookupError(doc_id)
    before, doc.review = doc.review, verdict
    doc.reviewed_by, doc.reviewed_at = actor, now()
    record(
        db,
        AuditTag.OP_DOCUMENT_REVIEWED,
        actor=actor,
        subject=None,
        org=org_id,
        document=doc_id,
        before=before,
        after=verdict,
    )
