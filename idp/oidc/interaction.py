"""What an authorization request needs before a code can be issued (pure).

Inputs are the request's demands and what the browser session has done; the output is
the next step. The view redirects on it and never decides itself. Each reason is a named
check, as in node-oidc-provider's interaction policy (STYLE.md example 3).

    request --> [no session / prompt=login / max_age / hint mismatch] --> LOGIN
            --> [consent missing / prompt=consent]                    --> CONSENT
            --> ISSUE
    prompt=none turns LOGIN into login_required and CONSENT into consent_required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Step(Enum):
    LOGIN = "login"
    CONSENT = "consent"
    ISSUE = "issue"
    ERROR = "error"


@dataclass(frozen=True)
class Demand:
    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    hint_sub: str | None = None  # from a valid id_token_hint
    scopes: frozenset[str] = frozenset()
    skip_consent: bool = False


@dataclass(frozen=True)
class SessionState:
    user_sub: str | None = None
    auth_time: int | None = None
    consented_scopes: frozenset[str] | None = None  # None = no consent on record
    # Set when this same authorization flow already went through login/consent:
    flow_started: int | None = None
    flow_consented: bool = False


@dataclass(frozen=True)
class Decision:
    step: Step
    reasons: tuple[str, ...] = ()
    error: str | None = None
    description: str | None = None
    extra: dict = field(default_factory=dict)


def _login_reasons(d: Demand, s: SessionState, t: int) -> list[str]:
    if s.user_sub is None or s.auth_time is None:
        return ["no_session"]
    fresh_in_flow = s.flow_started is not None and s.auth_time >= s.flow_started
    reasons = []
    if "login" in d.prompts and not fresh_in_flow:
        reasons.append("prompt_login")
    if d.max_age is not None and t - s.auth_time > d.max_age and not fresh_in_flow:
        reasons.append("max_age")
    if d.hint_sub is not None and d.hint_sub != s.user_sub:
        reasons.append("id_token_hint_mismatch")
    return reasons


def _consent_reasons(d: Demand, s: SessionState) -> list[str]:
    if d.skip_consent or s.flow_consented:
        return []
    if "consent" in d.prompts:
        return ["prompt_consent"]
    if s.consented_scopes is None or not d.scopes <= s.consented_scopes:
        return ["consent_missing"]
    return []


def decide(d: Demand, s: SessionState, t: int) -> Decision:
    """Next step for demand ``d`` given session ``s`` at time ``t`` (epoch seconds)."""
    silent = "none" in d.prompts
    login = _login_reasons(d, s, t)
    if login:
        if silent:
            return Decision(
                Step.ERROR, tuple(login), "login_required", "The end-user must sign in."
            )
        return Decision(Step.LOGIN, tuple(login))
    consent = _consent_reasons(d, s)
    if consent:
        if silent:
            return Decision(
                Step.ERROR, tuple(consent), "consent_required", "The end-user must consent."
            )
        return Decision(Step.CONSENT, tuple(consent))
    return Decision(Step.ISSUE)
