"""Organisation services. Limits hold under concurrency: every seat-consuming change
first UPDATEs the organisation row, which serialises such changes per organisation
(a row lock on PostgreSQL, the write lock on SQLite) before anything is counted."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp.audit import AuditTag, record
from idp.db import now
from idp.models import (
    Client,
    ClientScope,
    Consent,
    Entitlement,
    Grant,
    Membership,
    Organization,
    OrgClient,
    Token,
    User,
)
from idp.orgs import entitlements as rules


def _lock(db: Session, org_id: int) -> Organization:
    db.execute(update(Organization).where(Organization.id == org_id).values(changed_at=now()))
    org = db.get(Organization, org_id)
    if org is None:
        raise LookupError(org_id)
    return org


def create_org(
    db: Session,
    *,
    kind: str,
    identifier: str,
    name_th: str,
    name_en: str = "",
    member_limit: int = 10,
    status: str = "active",
) -> Organization:
    identifier = rules.check_identifier(kind, identifier)
    t = now()
    org = Organization(
        kind=kind,
        identifier=identifier,
        name_th=name_th.strip(),
        name_en=name_en.strip(),
        member_limit=member_limit,
        status=status,
        created_at=t,
        changed_at=t,
    )
    db.add(org)
    db.flush()
    return org


def allow_client(db: Session, org_id: int, client_id: str) -> None:
    exists = db.scalar(
        select(OrgClient).where(OrgClient.org_id == org_id, OrgClient.client_id == client_id)
    )
    if exists is None:
        db.add(OrgClient(org_id=org_id, client_id=client_id))


def add_member(
    db: Session, org_id: int, user: User, role: str = "member", actor: int | None = None
) -> Membership:
    org = _lock(db, org_id)
    existing = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user.id)
    )
    if existing is not None:
        return existing
    count = db.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org_id)
    )
    rules.check_member_limit(count, org.member_limit)
    m = Membership(org_id=org_id, user_id=user.id, role=role, created_at=now())
    db.add(m)
    db.flush()
    record(db, AuditTag.ORG_MEMBER_ADDED, actor=actor, subject=user.id, org=org_id, role=role)
    return m


def remove_member(db: Session, org_id: int, user_id: int, actor: int | None = None) -> None:
    """Remove a person who left (A3); their grants, tokens and consents for the
    organisation's clients end at once (SECURITY.md E-08)."""
    _lock(db, org_id)
    m = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if m is None:
        raise LookupError(user_id)
    admins = _admin_count(db, org_id)
    rules.check_admin_change(admins, m.role == "admin", demoting=True)
    clients = select(OrgClient.client_id).where(OrgClient.org_id == org_id)
    t = now()
    grants = select(Grant.id).where(Grant.user_id == user_id, Grant.client_id.in_(clients))
    db.execute(
        update(Token)
        .where(Token.grant_id.in_(grants), Token.revoked_at.is_(None))
        .values(revoked_at=t)
    )
    db.execute(update(Grant).where(Grant.id.in_(grants)).values(revoked_at=t))
    for consent in db.scalars(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id.in_(clients))
    ):
        db.delete(consent)
    db.delete(m)
    record(db, AuditTag.ORG_MEMBER_REMOVED, actor=actor, subject=user_id, org=org_id)


def _admin_count(db: Session, org_id: int) -> int:
    return db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == "admin")
    )


def set_role(db: Session, org_id: int, user_id: int, role: str, actor: int | None = None) -> None:
    if role not in ("member", "admin"):
        raise ValueError(role)
    _lock(db, org_id)
    m = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if m is None:
        raise LookupError(user_id)
    rules.check_admin_change(_admin_count(db, org_id), m.role == "admin", role == "member")
    m.role = role
    record(db, AuditTag.ORG_ROLE_CHANGED, actor=actor, subject=user_id, org=org_id, role=role)


def add_scope(
    db: Session,
    client_id: str,
    name: str,
    *,
    description_th: str = "",
    description_en: str = "",
    min_acr: str = "urn:idp:acr:pwd",
    seat_limit: int | None = None,
) -> ClientScope:
    scope = ClientScope(
        client_id=client_id,
        name=name,
        description_th=description_th,
        description_en=description_en,
        min_acr=min_acr,
        seat_limit=seat_limit,
    )
    db.add(scope)
    db.flush()
    # The client may now ask for it (authorization requests are checked against this).
    client = db.scalar(select(Client).where(Client.client_id == client_id))
    if client is not None and name not in client.scopes:
        client.scopes = [*client.scopes, name]
    return scope


def grant_scope(
    db: Session, org_id: int, user_id: int, scope_id: int, actor: int | None = None
) -> Entitlement:
    """Grant a client scope to a member, within the scope's per-organisation seats."""
    _lock(db, org_id)
    m = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    scope = db.get(ClientScope, scope_id)
    if m is None or scope is None:
        raise LookupError(user_id)
    allowed = db.scalar(
        select(OrgClient).where(OrgClient.org_id == org_id, OrgClient.client_id == scope.client_id)
    )
    if allowed is None:
        raise LookupError(scope.client_id)  # E-03: not a client this organisation may use
    existing = db.scalar(
        select(Entitlement).where(
            Entitlement.membership_id == m.id, Entitlement.scope_id == scope_id
        )
    )
    if existing is not None:
        return existing
    used = db.scalar(
        select(func.count())
        .select_from(Entitlement)
        .join(Membership, Membership.id == Entitlement.membership_id)
        .where(Membership.org_id == org_id, Entitlement.scope_id == scope_id)
    )
    rules.check_seat(used, scope.seat_limit)
    e = Entitlement(membership_id=m.id, scope_id=scope_id, granted_at=now(), granted_by=actor)
    db.add(e)
    db.flush()
    record(
        db, AuditTag.ORG_SCOPE_GRANTED, actor=actor, subject=user_id, org=org_id, scope=scope.name
    )
    return e


def revoke_scope(
    db: Session, org_id: int, user_id: int, scope_id: int, actor: int | None = None
) -> None:
    _lock(db, org_id)
    m = db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if m is None:
        raise LookupError(user_id)
    e = db.scalar(
        select(Entitlement).where(
            Entitlement.membership_id == m.id, Entitlement.scope_id == scope_id
        )
    )
    if e is not None:
        db.delete(e)
        record(
            db, AuditTag.ORG_SCOPE_REVOKED, actor=actor, subject=user_id, org=org_id, scope=scope_id
        )


def seat_usage(db: Session, org_id: int, scope_id: int) -> tuple[int, int | None]:
    """("2 of 3 used") for the console."""
    scope = db.get(ClientScope, scope_id)
    used = db.scalar(
        select(func.count())
        .select_from(Entitlement)
        .join(Membership, Membership.id == Entitlement.membership_id)
        .where(Membership.org_id == org_id, Entitlement.scope_id == scope_id)
    )
    return used, scope.seat_limit if scope else None


def held_scopes(db: Session, org_id: int, user_id: int, client_id: str) -> set[str]:
    """The client scopes this person holds in this organisation."""
    rows = db.scalars(
        select(ClientScope.name)
        .join(Entitlement, Entitlement.scope_id == ClientScope.id)
        .join(Membership, Membership.id == Entitlement.membership_id)
        .where(
            Membership.org_id == org_id,
            Membership.user_id == user_id,
            ClientScope.client_id == client_id,
        )
    )
    return set(rows)
