"""Claims of the tokens we issue to a person: the signed ID token (with the stored
``auth_time``/``acr``/``amr``, never "now") and the ``org`` claim of a person acting
for an organisation (issue 4). Userinfo and the grants both build claims here."""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.db import session
from idp.models import Organization, User
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


def issue_id_token(
    client: Any, user: User, scope: str, org_id: int | None = None, **claims: Any
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
        extra=org_claims(org_id),
        **claims,
    )
