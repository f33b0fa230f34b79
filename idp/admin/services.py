"""Operator decisions on organisations and client scopes. Each runs in the caller's
transaction with its audit record (before/after), under the same per-organisation lock
as the org admin's seat changes, so a limit is never lowered under a racing grant."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.db import now
from idp.models import (
    Client,
    ClientScope,
    Entitlement,
    Grant,
    Membership,
    Organization,
    OrgClient,
    OrgDocument,
    Token,
)
from idp.oidc.acr import ACR_LADDER
from idp.orgs import entitlements as rules
from idp.orgs.services import lock_org, seat_usage


def set_status(db: Session, org_id: int, action: str, actor: int | None) -> Organization:
    """approve / suspend / reactivate. Suspending ends, at once, every token issued to
    anyone acting for the organisation; its members can no longer pick it at login."""
    org = lock_org(db, org_id)
    before = org.status
    org.status = rules.next_status(org.status, action)
    if org.status == "suspended":
        t = now()
        grants = select(Grant.id).where(Grant.org_id == org_id, Grant.revoked_at.is_(None))
        db.execute(
            update(Token)
            .where(Token.grant_id.in_(grants), Token.revoked_at.is_(None))
            .values(revoked_at=t)
        )
        db.execute(
            update(Grant)
            .where(Grant.org_id == org_id, Grant.revoked_at.is_(None))
            .values(revoked_at=t)
        )
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


def set_member_limit(db: Session, org_id: int, limit: int, actor: int) -> None:
    org = lock_org(db, org_id)
    members = db.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org_id)
    )
    rules.check_new_limit(members, limit)
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


def set_clients(db: Session, org_id: int, client_ids: set[str], actor: int) -> None:
    """Which clients the organisation may use. Taking one away also takes away its
    scopes from the members (so their next refresh carries none of them)."""
    lock_org(db, org_id)
    known = set(db.scalars(select(Client.client_id).where(Client.client_id.in_(client_ids))))
    if known != client_ids:
        raise LookupError(sorted(client_ids - known))
    before = set(db.scalars(select(OrgClient.client_id).where(OrgClient.org_id == org_id)))
    removed = before - client_ids
    for client_id in sorted(client_ids - before):
        db.add(OrgClient(org_id=org_id, client_id=client_id))
    if removed:
        db.execute(
            delete(OrgClient).where(OrgClient.org_id == org_id, OrgClient.client_id.in_(removed))
        )
        scopes = select(ClientScope.id).where(ClientScope.client_id.in_(removed))
        members = select(Membership.id).where(Membership.org_id == org_id)
        db.execute(
            delete(Entitlement).where(
                Entitlement.scope_id.in_(scopes), Entitlement.membership_id.in_(members)
            )
        )
    if before != client_ids:
        record(
            db,
            AuditTag.OP_ORG_CLIENTS_CHANGED,
            actor=actor,
            subject=None,
            org=org_id,
            before=sorted(before),
            after=sorted(client_ids),
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
