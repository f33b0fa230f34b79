"""Organisation services. Limits hold under concurrency: every seat-consuming change
first UPDATEs the organisation row, which serialises such changes per organisation
(a row lock on PostgreSQL, the write lock on SQLite) before anything is counted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.account.identifiers import email_key, is_valid_email
from idp.account.services import set_email
from idp.audit import AuditTag, record
from idp.db import now
from idp.localized import org_name
from idp.mail import recipient_locale, send_templated
from idp.models import (
    Client,
    ClientScope,
    Consent,
    Entitlement,
    Grant,
    Membership,
    Organization,
    OrgClient,
    User,
)
from idp.oidc.revocation import end_grants
from idp.orgs import entitlements as rules

ADMIN = "admin"  # the membership role of an org admin (MISSION A3)


def lock_org(db: Session, org_id: int) -> Organization:
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
    """Let the organisation's members use the client; INSERT ... ON CONFLICT DO NOTHING,
    so two operators doing it at once make one row (issue 13)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(OrgClient)
        .values(org_id=org_id, client_id=client_id)
        .on_conflict_do_nothing(index_elements=["org_id", "client_id"])
    )


def org_admins(db: Session, org_id: int) -> list[User]:
    """The organisation's admins, by username: the one answer to "who administers it"
    (callers count them or take their names)."""
    return list(
        db.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == ADMIN)
            .order_by(User.username)
        )
    )


def administered_orgs(db: Session, user_id: int) -> list[Organization]:
    """The organisations this person is an admin of (their consoles), by Thai name."""
    return list(
        db.scalars(
            select(Organization)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == user_id, Membership.role == ADMIN)
            .order_by(Organization.name_th)
        )
    )


def is_org_admin(db: Session, org_id: int, user_id: int) -> bool:
    """May this person use the organisation's console (SECURITY.md E-01)?"""
    return (
        db.scalar(
            select(Membership.id).where(
                Membership.org_id == org_id,
                Membership.user_id == user_id,
                Membership.role == ADMIN,
            )
        )
        is not None
    )


def member_count(db: Session, org_id: int) -> int:
    """How many people belong to the organisation (its member limit counts these)."""
    return db.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org_id)
    )


def membership(db: Session, org_id: int, user_id: int) -> Membership | None:
    return db.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


def add_member(
    db: Session, org_id: int, user: User, role: str = "member", actor: int | None = None
) -> Membership:
    org = lock_org(db, org_id)
    existing = membership(db, org_id, user.id)
    if existing is not None:
        return existing
    rules.check_member_limit(member_count(db, org_id), org.member_limit)
    m = Membership(org_id=org_id, user_id=user.id, role=role, created_at=now())
    db.add(m)
    db.flush()
    record(
        db,
        AuditTag.ORG_MEMBER_ADDED,
        actor=actor,
        subject=user.id,
        org=org_id,
        before=None,
        after={"role": role},
    )
    return m


def remove_member(db: Session, org_id: int, user_id: int, actor: int | None = None) -> None:
    """Remove a person who left (A3); their grants, tokens and consents for the
    organisation's clients end at once (SECURITY.md E-08)."""
    lock_org(db, org_id)
    m = membership(db, org_id, user_id)
    if m is None:
        raise LookupError(user_id)
    admins = len(org_admins(db, org_id))
    rules.check_admin_change(admins, m.role == ADMIN, demoting=True)
    clients = select(OrgClient.client_id).where(OrgClient.org_id == org_id)
    end_grants(db, Grant.user_id == user_id, Grant.client_id.in_(clients))
    for consent in db.scalars(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id.in_(clients))
    ):
        db.delete(consent)
    db.delete(m)
    record(
        db,
        AuditTag.ORG_MEMBER_REMOVED,
        actor=actor,
        subject=user_id,
        org=org_id,
        before={"role": m.role},
        after=None,
    )


def set_role(db: Session, org_id: int, user_id: int, role: str, actor: int | None = None) -> None:
    if role not in ("member", ADMIN):
        raise ValueError(role)
    lock_org(db, org_id)
    m = membership(db, org_id, user_id)
    if m is None:
        raise LookupError(user_id)
    rules.check_admin_change(len(org_admins(db, org_id)), m.role == ADMIN, role == "member")
    before, m.role = m.role, role
    record(
        db,
        AuditTag.ORG_ROLE_CHANGED,
        actor=actor,
        subject=user_id,
        org=org_id,
        before=before,
        after=role,
    )


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
    lock_org(db, org_id)
    m = membership(db, org_id, user_id)
    scope = db.get(ClientScope, scope_id)
    if m is None or scope is None:
        raise LookupError(user_id)
    allowed = db.scalar(
        select(OrgClient).where(OrgClient.org_id == org_id, OrgClient.client_id == scope.client_id)
    )
    if allowed is None or (allowed.scopes is not None and scope.name not in allowed.scopes):
        # E-03: not a client, or a scope of it, that this organisation may use
        raise LookupError(scope.client_id)
    existing = db.scalar(
        select(Entitlement).where(
            Entitlement.membership_id == m.id, Entitlement.scope_id == scope_id
        )
    )
    if existing is not None:
        return existing
    used, limit = seat_usage(db, org_id, scope_id)
    rules.check_seat(used, limit)
    e = Entitlement(membership_id=m.id, scope_id=scope_id, granted_at=now(), granted_by=actor)
    db.add(e)
    db.flush()
    record(
        db,
        AuditTag.ORG_SCOPE_GRANTED,
        actor=actor,
        subject=user_id,
        org=org_id,
        scope=scope.name,
        before="not held",
        after="held",
    )
    return e


def revoke_scope(
    db: Session, org_id: int, user_id: int, scope_id: int, actor: int | None = None
) -> None:
    lock_org(db, org_id)
    m = membership(db, org_id, user_id)
    if m is None:
        raise LookupError(user_id)
    e = db.scalar(
        select(Entitlement).where(
            Entitlement.membership_id == m.id, Entitlement.scope_id == scope_id
        )
    )
    if e is not None:
        db.delete(e)
        scope = db.get(ClientScope, scope_id)
        record(
            db,
            AuditTag.ORG_SCOPE_REVOKED,
            actor=actor,
            subject=user_id,
            org=org_id,
            scope=scope.name if scope else scope_id,
            before="held",
            after="not held",
        )


def seat_usage(db: Session, org_id: int, scope_id: int) -> tuple[int, int | None]:
    """(seats in use, seat limit or None) of a scope in an organisation: the one seat
    count, for the grant check, the operator's new limit, the console's "2 of 3 used"
    and the CLI. Exact only under :func:`lock_org` when a decision depends on it."""
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


class EmailChangeRefused(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def change_admin_email(
    db: Session,
    settings: Any,
    org_id: int,
    user_id: int,
    new: str,
    *,
    actor: int,
    as_operator: bool,
) -> User:
    """MISSION A7, the one front door for changing an org admin's email for them (the
    org admin console and the operator console call it).

    Who may change whose email is :func:`idp.orgs.entitlements.may_change_admin_email`:
    another admin of the organisation when it has at least two admins, or a platform
    operator (``as_operator``, checked against the account); never one's own (that is
    the self-service change with a code to the new address, SECURITY.md M-11). The new
    address must be valid and unused; it stays unverified until proven. The change is
    audited (``org:admin:email_changed`` or ``op:user:email_changed``) and committed,
    then both the old and the new address are told (best effort).

    Raises LookupError when the organisation does not exist or the person is not a
    member of it, and :class:`EmailChangeRefused` (``email_not_allowed``,
    ``email_invalid``, ``email_taken``) with nothing changed.
    """
    # The organisation lock serialises this with role changes: the admins counted
    # here are still the admins when the change commits.
    org = lock_org(db, org_id)
    target = membership(db, org_id, user_id)
    if target is None:
        raise LookupError(user_id)
    admin_ids = {u.id for u in org_admins(db, org_id)}
    actor_user = db.get(User, actor)
    by_operator = as_operator and actor_user is not None and actor_user.is_operator
    if not rules.may_change_admin_email(
        by_operator=by_operator,
        actor_is_admin=not as_operator and actor in admin_ids,
        target_is_admin=user_id in admin_ids,
        is_self=user_id == actor,
        admins=len(admin_ids),
    ):
        raise EmailChangeRefused("email_not_allowed")
    if not is_valid_email(new):
        raise EmailChangeRefused("email_invalid")
    clash = db.scalar(select(User).where(User.email_key == email_key(new), User.id != user_id))
    if clash is not None:
        raise EmailChangeRefused("email_taken")
    user = db.get(User, user_id)
    old = user.email
    set_email(user, new, verified=False)  # the new address is unproven
    tag = AuditTag.OP_EMAIL_CHANGED if by_operator else AuditTag.ORG_ADMIN_EMAIL_CHANGED
    record(db, tag, actor=actor, subject=user_id, org=org_id, before=old, after=user.email)
    db.commit()  # the mails describe a change that happened
    locale = recipient_locale(settings, user)  # both addresses are the owner's
    for address in (old, user.email):
        send_templated(
            settings,
            address,
            "email_changed",
            locale,
            username=user.username,
            old=old,
            new=user.email,
            by="operator" if by_operator else "admin",
            org=org_name(org, locale),
            when=now(),
        )
    return user


def grantable_scopes(db: Session, org_id: int) -> list[ClientScope]:
    """The scopes the organisation's admins may hand out (operators decide)."""
    rows = db.execute(
        select(ClientScope, OrgClient.scopes)
        .join(OrgClient, OrgClient.client_id == ClientScope.client_id)
        .where(OrgClient.org_id == org_id)
        .order_by(ClientScope.name)
    ).all()
    return [scope for scope, allowed in rows if allowed is None or scope.name in allowed]
