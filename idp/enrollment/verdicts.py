"""Verifier verdicts, stored (``identity_verifications``) and applied to a person's
membership: the one front door every verifier's caller uses (wizard, identity app,
"verify now", the review queue). The ``verified_claims`` of tokens are built from
:func:`latest_verified` alone (SECURITY.md X-04)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.enrollment import membership
from idp.enrollment.verifiers import Method, Outcome, Verdict
from idp.models import IdentityVerification, User


def record(
    db: Session, verdict: Verdict, *, user_id: int | None = None, registration_id: int | None = None
) -> IdentityVerification:
    """Store a verdict for an account or a registration (every outcome: an auditor sees
    the failed and unreachable checks too). Flushes; the caller commits."""
    row = IdentityVerification(
        user_id=user_id,
        registration_id=registration_id,
        method=str(verdict.method),
        outcome=str(verdict.outcome),
        at=verdict.at,
        evidence_ref=verdict.evidence_ref[:200],
        trust_framework=verdict.trust_framework,
        evidence_type=verdict.evidence_type,
        claims=dict(verdict.claims),
        reason=verdict.reason[:64],
    )
    db.add(row)
    db.flush()
    return row


def as_verdict(row: IdentityVerification) -> Verdict:
    return Verdict(
        outcome=Outcome(row.outcome),
        method=Method(row.method),
        at=row.at,
        evidence_ref=row.evidence_ref,
        trust_framework=row.trust_framework,
        evidence_type=row.evidence_type,
        claims=dict(row.claims or {}),
        reason=row.reason,
    )


def latest_verified(db: Session, user_id: int) -> IdentityVerification | None:
    """The newest verified verdict of an account that proves identity (registry or
    identity app; a directory match or an approved staff document proves employment,
    and is returned only when nothing else verified the person)."""
    rows = list(
        db.scalars(
            select(IdentityVerification)
            .where(
                IdentityVerification.user_id == user_id,
                IdentityVerification.outcome == str(Outcome.VERIFIED),
            )
            .order_by(IdentityVerification.at.desc(), IdentityVerification.id.desc())
        )
    )
    identity = [r for r in rows if r.method in (Method.REGISTRY, Method.IDENTITY_APP)]
    return (identity or rows or [None])[0]


def state_of(user: User) -> membership.State:
    return membership.State(
        membership.MemberType(user.member_type),
        membership.Status(user.membership_status),
        user.membership_expires_at,
    )


def set_state(user: User, state: membership.State) -> None:
    user.member_type = str(state.member_type)
    user.membership_status = str(state.status)
    user.membership_expires_at = state.expires_at
    if state.status is not membership.Status.TEMPORARY:
        user.membership_reminded_days = None


EVENT_OF_METHOD = {
    Method.REGISTRY: membership.Event.PROOFED,
    Method.IDENTITY_APP: membership.Event.PROOFED,
    Method.DIRECTORY: membership.Event.DIRECTORY_MATCH,
}


def apply_to_user(db: Session, user: User, verdict: Verdict, now: int) -> membership.State:
    """Record ``verdict`` for ``user`` and, when it verified them, move their membership
    along the state machine (PROOFED / DIRECTORY_MATCH). A transition the diagram does
    not have leaves the state as it is (the verdict is still recorded). Flushes."""
    record(db, verdict=verdict, user_id=user.id)
    state = state_of(user)
    event = EVENT_OF_METHOD.get(verdict.method)
    if verdict.verified and event is not None:
        try:
            state = membership.apply(state, event, now)
        except membership.TransitionRefused:
            return state
        set_state(user, state)
        db.flush()
    return state
