"""Claims of the tokens we issue to a person: the signed ID token (with the stored
``auth_time``/``acr``/``amr``, never "now") and the ``org`` claim of a person acting
for an organisation (issue 4). Userinfo and the grants both build claims here."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from idp.db import session
from idp.enrollment.verdicts import latest_verified, state_of
from idp.models import Organization, User
from idp.oidc import assurance
from idp.oidc.scopes import MEMBERSHIP_SCOPE, VERIFIED_CLAIMS_SCOPE, split_scope
from idp.oidc.tokens import build_id_token
from idp.orgs.login import org_claim


def settings() -> Any:
    return current_app.extensions["idp_settings"]


def org_claims(org_id: int | None) -> dict:
    """The ``org`` claim for tokens issued to a person acting for an organisation."""
    if org_id is None:
        return {}
    org = session().get(Organization, org_id)
    return {"org": org_claim(org)} if org is not None else {}


def verified_claims_of(db: Session, user_id: int) -> dict | None:
    """Everything the newest stored verified verdict proves (SECURITY.md X-04: the
    only source), or None when the person is not verified by a verifier."""
    row = latest_verified(db, user_id)
    if row is None:
        return None
    return assurance.full_verified_claims(
        method=row.method,
        at=row.at,
        trust_framework=row.trust_framework,
        evidence_type=row.evidence_type,
        evidence_ref=row.evidence_ref,
        claims=row.claims or {},
    )


def assurance_claims(
    db: Session, user: User, scope: str, requested: dict | None, target: str
) -> dict:
    """``membership`` (scope ``membership``) and ``verified_claims`` (scope
    ``verified_claims``) for ``target`` ("id_token" | "userinfo"). ``requested`` is the
    stored verified_claims request of the grant: a target it names gets what its
    request selects, a target it does not name gets none; no request at all: the
    scope releases everything verified."""
    scopes = split_scope(scope)
    out: dict[str, Any] = {}
    if MEMBERSHIP_SCOPE in scopes:
        state = state_of(user)
        out["membership"] = assurance.membership_claim(
            str(state.member_type), str(state.status), state.expires_at, state.has_badge
        )
    if VERIFIED_CLAIMS_SCOPE in scopes:
        if requested and target not in requested:
            return out
        picked = assurance.select_verified_claims(
            verified_claims_of(db, user.id), (requested or {}).get(target)
        )
        if picked is not None:
            out["verified_claims"] = picked
    return out


def issue_id_token(
    client: Any,
    user: User,
    scope: str,
    org_id: int | None = None,
    requested: dict | None = None,
    **claims: Any,
) -> str:
    """Sign an ID token for ``client`` with its algorithm; ``claims`` carries
    auth_time, acr, amr, nonce, sid and the access token for ``at_hash``."""
    s = settings()
    ring = current_app.extensions["idp_keys"].get(session())
    return build_id_token(
        ring,
        issuer=s.issuer,
        client_id=client.get_client_id(),
        alg=client.row.id_token_alg,
        ttl=s.id_token_ttl,
        user=user,
        scope=scope,
        extra=org_claims(org_id) | assurance_claims(session(), user, scope, requested, "id_token"),
        **claims,
    )
