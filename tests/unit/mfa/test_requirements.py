"""The one requirement builder (issue 8): freshness cut-off from prompt=login / max_age
within a flow, and a console's idle limit (OIDC Core 3.1.2.1, SECURITY.md S-04)."""

from __future__ import annotations

from idp.mfa.requirements import Audience, build_requirement
from idp.oidc.acr import ACR_MFA

T = 1_900_000_000
CONSOLE = Audience(min_acr=ACR_MFA, email_allowed=False)


def test_max_age_applies_as_such_outside_a_flow():
    req = build_requirement(None, CONSOLE, max_age=60)
    assert (req.max_age, req.login_after, req.client_min, req.email_allowed) == (
        60,
        None,
        ACR_MFA,
        False,
    )


def test_a_password_entered_within_the_flow_satisfies_max_age_and_prompt_login():
    """Factors proven since the flow started count, older ones do not."""
    req = build_requirement(None, CONSOLE, max_age=0, flow_started=T - 10, password_time=T - 5)
    assert (req.max_age, req.login_after) == (None, T - 10)
    login = build_requirement(
        None, CONSOLE, prompts=frozenset({"login"}), flow_started=T - 10, password_time=T - 5
    )
    assert login.login_after == T - 10


def test_a_password_from_before_the_flow_does_not_lift_max_age():
    req = build_requirement(None, CONSOLE, max_age=30, flow_started=T - 10, password_time=T - 50)
    assert (req.max_age, req.login_after) == (30, None)


def test_console_idle_limit_discards_earlier_factors():
    req = build_requirement(None, CONSOLE, max_age=3600, not_before=T - 1)
    assert (req.max_age, req.login_after) == (3600, T - 1)
