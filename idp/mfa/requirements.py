"""The one builder of step-up requirements: every input of ``policy.decide`` comes from
here, for /authorize, for the refresh grant and for the consoles (issue 8).

Inputs gathered in one place: the audience's minimum and whether it accepts an emailed
code, the levels of the requested scopes from both stores (a client's ``--scope-acr``
settings and the assurance level of each organisation scope it declares), the request's
``acr_values``, essential ``acr`` (OIDC Core 5.5.1.1) and ``max_age``, and the freshness
cut-off (``prompt=login`` / ``max_age`` / a console's idle limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from idp.mfa import policy
from idp.oidc.acr import ACR_PASSWORD
from idp.oidc.clients import declared_scopes


@dataclass(frozen=True)
class Audience:
    """What a sign-in is for: a relying party's step-up settings, or an IdP console's
    (``client_id`` None)."""

    min_acr: str = ACR_PASSWORD
    email_allowed: bool = True
    client_id: str | None = None
    scope_acr: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_client(cls, row: Any) -> Audience:
        return cls(row.min_acr, row.allow_email_otp, row.client_id, dict(row.scope_acr or {}))


def scope_levels(db: Session, audience: Audience, scopes: Iterable[str]) -> tuple[str, ...]:
    """Levels demanded by the requested scopes, from both stores."""
    scopes = set(scopes)
    levels = [audience.scope_acr[s] for s in sorted(scopes) if s in audience.scope_acr]
    if audience.client_id is not None and scopes:
        declared = declared_scopes(db, audience.client_id)
        levels += [declared[s] for s in sorted(scopes) if s in declared]
    return tuple(levels)


def build_requirement(
    db: Session,
    audience: Audience,
    scopes: Iterable[str] = (),
    *,
    prompts: frozenset[str] = frozenset(),
    max_age: int | None = None,
    acr_values: tuple[str, ...] = (),
    essential: tuple[str, ...] | None = None,
    flow_started: int | None = None,
    password_time: int | None = None,
    not_before: int | None = None,
) -> policy.Requirement:
    """The requirement for ``audience`` and ``scopes``.

    Freshness: with ``prompt=login`` or ``max_age``, factors proven within this flow
    (a password entered after ``flow_started``) count even though the flow demanded a
    fresh login; otherwise ``max_age`` applies as such. ``not_before`` (a console's idle
    limit) makes every factor proven earlier count for nothing.
    """
    login_after = not_before
    demands_fresh = "login" in prompts or max_age is not None
    if (
        demands_fresh
        and flow_started is not None
        and password_time is not None
        and password_time >= flow_started
    ):
        login_after = max(flow_started, not_before or flow_started)
        max_age = None
    return policy.Requirement(
        client_min=audience.min_acr,
        scope_levels=scope_levels(db, audience, scopes),
        voluntary=acr_values,
        essential=essential,
        max_age=max_age,
        login_after=login_after,
        email_allowed=audience.email_allowed,
    )
