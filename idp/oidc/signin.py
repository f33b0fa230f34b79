"""Gathers what the sign-in pipeline decides on, from the database and the flow, in
one place (services room: the pipeline itself is pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.db import now
from idp.enrollment.notices import current_version
from idp.enrollment.verdicts import state_of
from idp.mfa import policy
from idp.mfa.requirements import Audience, build_requirement
from idp.mfa.services import enrolled_kinds
from idp.models import Consent, User
from idp.oidc.flows import Flow
from idp.oidc.pipeline import Context, SignInRequest
from idp.oidc.scopes import split_scope
from idp.orgs.entitlements import OrgChoice, choose_org
from idp.orgs.login import org_facts


def consented_scopes(db: Session, user_id: int, client_id: str) -> frozenset[str] | None:
    row = db.scalar(
        select(Consent.scope).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )
    return frozenset(split_scope(row)) if row is not None else None


def gather(
    db: Session,
    client_row: Any,
    user: User | None,
    request: SignInRequest,
    flow: Flow | None,
    factors: Mapping[str, int],
    t: int,
) -> Context:
    """The pipeline's context for ``user`` (None: nobody signed in) at ``client_row``."""
    flow_facts: dict[str, Any] = {}
    if flow is not None:
        flow_facts = {
            "flow_started": flow.started,
            "flow_org_id": flow.org_id,
            "flow_consented": flow.consented,
        }
    if user is None:
        return Context(request=request, now=t, **flow_facts)
    requirement = build_requirement(
        db,
        Audience.of_client(client_row),
        request.scopes,
        prompts=request.prompts,
        max_age=request.max_age,
        acr_values=request.acr_values,
        essential=request.essential_acr,
        flow_started=flow.started if flow is not None else None,
        password_time=factors.get(policy.PASSWORD),
    )
    return Context(
        request=request,
        now=t,
        user_sub=user.sub,
        factors=dict(factors),
        enrolled=enrolled_kinds(db, user.id, t),
        requirement=requirement,
        orgs=org_facts(db, client_row.client_id, user.id),
        skip_consent=client_row.skip_consent,
        consented_scopes=consented_scopes(db, user.id, client_row.client_id),
        membership=state_of(user),
        required_membership=client_row.required_membership,
        notice_current=current_version(db),
        notice_accepted=user.notice_version,
        must_change_password=user.must_change_password,
        **flow_facts,
    )


def remember_consent(db: Session, user_id: int, client_id: str, scopes: list[str]) -> None:
    """Add ``scopes`` to the person's consent for the client (the caller commits).
    Race-free (issue 13: two concurrent consents of one person collided on
    uq_consents_user_id): INSERT ... ON CONFLICT DO NOTHING makes the one row, then the
    row is locked (FOR UPDATE; SQLite has one writer anyway) before the scopes merge,
    so concurrent consents add up instead of overwriting each other."""
    t = now()
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(Consent)
        .values(user_id=user_id, client_id=client_id, scope="", granted_at=t)
        # DO UPDATE, not DO NOTHING: it locks the row, so a consent revoked at the same
        # moment cannot delete it between this statement and the SELECT below.
        .on_conflict_do_update(index_elements=["user_id", "client_id"], set_={"granted_at": t})
    )
    row = db.scalar(
        select(Consent)
        .where(Consent.user_id == user_id, Consent.client_id == client_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    held = split_scope(row.scope)
    row.scope, row.granted_at = " ".join(held + [s for s in scopes if s not in held]), t


def flow_org_choice(
    db: Session, client_id: str, user_id: int, flow: Flow, requested: list[str]
) -> OrgChoice:
    """The organisation a flow acts for and the scopes of ``requested`` it would issue
    there, as the pipeline's organisation step decides it (for the consent page)."""
    return choose_org(
        org_facts(db, client_id, user_id),
        requested,
        flow.org_id,
        use_remembered="select_account" not in (flow.param("prompt") or "").split(),
    )
