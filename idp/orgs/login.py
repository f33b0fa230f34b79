"""Which organisation a person acts for at a client, and what it lets them do (issue 4).

A client that declares scopes (``idp clients add-scope``) is an organisation client:
the person must belong to an active organisation allowed to use it and hold at least one
of its scopes there. With several such organisations they choose (remembered per client
in the database across sessions; ``prompt=select_account`` or forgetting it on the
account page asks again). Tokens then carry an ``org`` claim
and, of the client's scopes, only those the person holds in that organisation.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.db import now
from idp.models import Membership, Organization, OrgChoice, OrgClient
from idp.oidc.clients import declared_scopes
from idp.orgs.entitlements import OrgFacts
from idp.orgs.services import held_scopes, org_admins


def client_scope_names(db: Session, client_id: str) -> set[str]:
    return set(declared_scopes(db, client_id))


def candidate_orgs(db: Session, user_id: int, client_id: str) -> list[Organization]:
    return list(
        db.scalars(
            select(Organization)
            .join(Membership, Membership.org_id == Organization.id)
            .join(OrgClient, OrgClient.org_id == Organization.id)
            .where(
                Membership.user_id == user_id,
                OrgClient.client_id == client_id,
                Organization.status == "active",
            )
            .order_by(Organization.name_th)
        )
    )


def admins_of(db: Session, org_id: int) -> list[str]:
    """The names of the organisation's admins, for the "ask your admin" page."""
    return [u.name or u.username for u in org_admins(db, org_id)]


def org_facts(db: Session, client_id: str, user_id: int) -> OrgFacts:
    """Everything ``entitlements.choose_org`` needs, read in one place (login and the
    refresh grant both use it)."""
    declared = frozenset(client_scope_names(db, client_id))
    if not declared:
        return OrgFacts(declared)
    candidates = tuple(o.id for o in candidate_orgs(db, user_id, client_id))
    held = {org_id: frozenset(held_scopes(db, org_id, user_id, client_id)) for org_id in candidates}
    return OrgFacts(declared, candidates, held, remembered_org(db, user_id, client_id))


def org_claim(org: Organization) -> dict:
    return {
        "id": str(org.id),
        "identifier": org.identifier,
        "name_th": org.name_th,
        "name_en": org.name_en,
    }


def remembered_org(db: Session, user_id: int, client_id: str) -> int | None:
    return db.scalar(
        select(OrgChoice.org_id).where(
            OrgChoice.user_id == user_id, OrgChoice.client_id == client_id
        )
    )


def remember_org(db: Session, user_id: int, client_id: str, org_id: int) -> None:
    """Remember the organisation chosen at the client: one upsert (INSERT ... ON
    CONFLICT DO UPDATE), so two concurrent sign-ins cannot collide on
    uq_org_choices_user_id (issue 13); the later choice wins."""
    t = now()
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(OrgChoice)
        .values(user_id=user_id, client_id=client_id, org_id=org_id, chosen_at=t)
        .on_conflict_do_update(
            index_elements=["user_id", "client_id"], set_={"org_id": org_id, "chosen_at": t}
        )
    )


def forget_org(db: Session, user_id: int, client_id: str) -> None:
    db.execute(
        delete(OrgChoice).where(OrgChoice.user_id == user_id, OrgChoice.client_id == client_id)
    )
