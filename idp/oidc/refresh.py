"""What a refresh may still issue (RFC 6749 section 6; SECURITY.md P-24, E-06): the
rules of a login, re-checked through the same builders, on the stored grant."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from sqlalchemy.orm import Session

from idp.db import now
from idp.enrollment import membership
from idp.enrollment.verdicts import state_of
from idp.mfa import policy
from idp.mfa.requirements import Audience, build_requirement
from idp.models import Grant, User
from idp.oidc.acr import ACR_PASSWORD
from idp.oidc.scopes import split_scope
from idp.oidc.signin import consented_scopes
from idp.orgs.entitlements import effective_scopes, scopes_for
from idp.orgs.login import org_facts


def refreshable_scope(
    db: Session, client: Any, user: User | None, grant: Grant | None, scope: str
) -> str:
    """The scope the new tokens carry, or ``invalid_grant`` when the grant may no longer
    be refreshed: the account is gone or disabled, the password changed since the
    login or must be changed (issue 11), consent was withdrawn, the client or a
    requested scope now demands more than the grant's acr (no refresh bypass of
    step-up, issue 3), or the organisation no longer lets the person use the client,
    or their membership no longer allows tokens (R-06, R-07). Client scopes the
    person no longer holds are left out (shrunk grants take effect here at the
    latest)."""
    if user is None or not user.is_active or grant is None:
        raise InvalidGrantError("The refresh token is no longer valid.")
    if not membership.may_get_tokens(state_of(user), now()):
        # a temporary membership expired, or a review rejected the person.
        raise InvalidGrantError("The membership no longer allows tokens.")
    if user.password_changed_at > (grant.auth_time or 0):
        raise InvalidGrantError("The password changed since this grant was made.")
    if user.must_change_password:
        # Issue 11 (MISSION B2): no client gets a token before the person has chosen a
        # new password, a refreshed one neither.
        raise InvalidGrantError("The end-user must choose a new password first.")
    requested = split_scope(scope)
    requirement = build_requirement(db, Audience.of_client(client.row), requested)
    if policy.rank(grant.acr or ACR_PASSWORD) < policy.rank(policy.required_level(requirement)):
        raise InvalidGrantError("The client requires a stronger sign-in.")
    if not client.row.skip_consent and consented_scopes(db, user.id, client.client_id) is None:
        raise InvalidGrantError("Consent for this client was withdrawn.")
    facts = org_facts(db, client.client_id, user.id)
    if grant.org_id is None:
        return " ".join(effective_scopes(requested, facts.declared, ()))
    choice = scopes_for(facts, grant.org_id, requested)
    if choice.kind != "ok":
        raise InvalidGrantError("The organisation no longer lets this person use the client.")
    return " ".join(choice.scope)
