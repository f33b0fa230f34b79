"""The sign-in pipeline (pure): OIDC Core 3.1.2.1 prompt, max_age, id_token_hint;
step-up; organisation; consent; and its table matching its documented diagram."""

from __future__ import annotations

import re

import pytest

from idp.mfa import policy
from idp.oidc import pipeline
from idp.oidc.acr import ACR_MFA, ACR_PASSWORD
from idp.oidc.interaction import ENDPOINTS
from idp.oidc.pipeline import Context, Next, SignInRequest, run
from idp.orgs.entitlements import OrgFacts

T = 1_900_000_000
OPENID = ("openid",)
NONE = frozenset({"none"})


def signed_in(**kw):
    base = dict(
        now=T,
        user_sub="u1",
        factors={policy.PASSWORD: T - 100},
        consented_scopes=frozenset(OPENID),
    )
    return Context(**{**base, **kw})


def req(**kw):
    return SignInRequest(**{"scopes": OPENID, **kw})


@pytest.mark.parametrize(
    "ctx,step,reasons,error,goto",
    [
        (Context(request=req(), now=T), "authenticate", ("no_session",), None, Next.LOGIN),
        (
            Context(request=req(prompts=NONE), now=T),
            "authenticate",
            ("no_session",),
            "login_required",
            None,
        ),
        (signed_in(request=req()), "issue", (), None, None),
        (
            signed_in(request=req(prompts=frozenset({"login"}))),
            "authenticate",
            ("prompt_login",),
            None,
            Next.LOGIN,
        ),
        (signed_in(request=req(max_age=100)), "issue", (), None, None),
        (signed_in(request=req(max_age=99)), "authenticate", ("max_age",), None, Next.LOGIN),
        (
            signed_in(request=req(max_age=0, prompts=NONE)),
            "authenticate",
            ("max_age",),
            "login_required",
            None,
        ),
        (
            signed_in(request=req(hint_sub="other")),
            "authenticate",
            ("id_token_hint_mismatch",),
            None,
            Next.LOGIN,
        ),
        (signed_in(request=req(hint_sub="u1", prompts=NONE)), "issue", (), None, None),
        (
            signed_in(request=req(scopes=("openid", "email"))),
            "consent",
            ("consent_missing",),
            None,
            Next.CONSENT,
        ),
        (
            signed_in(request=req(scopes=("openid", "email"), prompts=NONE)),
            "consent",
            ("consent_missing",),
            "consent_required",
            None,
        ),
        (
            signed_in(request=req(scopes=("openid", "email")), skip_consent=True),
            "issue",
            (),
            None,
            None,
        ),
        (
            signed_in(request=req(prompts=frozenset({"consent"}))),
            "consent",
            ("prompt_consent",),
            None,
            Next.CONSENT,
        ),
        (
            signed_in(request=req(), consented_scopes=None),
            "consent",
            ("consent_missing",),
            None,
            Next.CONSENT,
        ),
        (
            signed_in(request=req(prompts=frozenset({"login"}), max_age=0)),
            "authenticate",
            ("prompt_login", "max_age"),
            None,
            Next.LOGIN,
        ),
    ],
)
def test_decision_table(ctx, step, reasons, error, goto):
    result = run(ctx)
    assert result.step == step
    if step == "issue":
        assert result.outcome is None and result.issue is not None
    else:
        assert (result.outcome.reasons, result.outcome.error, result.outcome.goto) == (
            reasons,
            error,
            goto,
        )


def test_login_within_the_same_flow_satisfies_prompt_login_and_max_age():
    ctx = signed_in(
        request=req(prompts=frozenset({"login"}), max_age=0),
        now=T + 3,
        factors={policy.PASSWORD: T},
        flow_started=T - 5,
    )
    assert run(ctx).step == "issue"


def test_login_before_the_flow_started_does_not_satisfy_prompt_login():
    ctx = signed_in(request=req(prompts=frozenset({"login"})), flow_started=T - 5)
    assert run(ctx).outcome.reasons == ("prompt_login",)


def test_a_second_factor_after_the_flow_started_does_not_count_as_a_fresh_login():
    """prompt=login asks for the password again (OIDC Core 3.1.2.1), not any factor."""
    ctx = signed_in(
        request=req(prompts=frozenset({"login"})),
        factors={policy.PASSWORD: T - 100, policy.TOTP: T - 1},
        flow_started=T - 5,
    )
    assert run(ctx).step == "authenticate"


def test_consent_given_in_flow_is_enough_even_with_prompt_consent():
    ctx = signed_in(
        request=req(prompts=frozenset({"consent"})), consented_scopes=None, flow_consented=True
    )
    assert run(ctx).step == "issue"


MFA_CLIENT = policy.Requirement(client_min=ACR_MFA)


def test_step_up_comes_before_organisation_and_consent():
    """Nobody chooses an organisation or consents before being fully authenticated."""
    ctx = signed_in(
        request=req(scopes=("openid", "einvoice:submit")),
        requirement=MFA_CLIENT,
        enrolled=frozenset({policy.TOTP}),
        orgs=OrgFacts(frozenset({"einvoice:submit"}), (1, 2), {1: frozenset(), 2: frozenset()}),
        consented_scopes=None,
    )
    result = run(ctx)
    assert result.step == "step_up"
    assert result.outcome.goto is Next.SECOND_FACTOR
    assert result.outcome.step_up.required == ACR_MFA
    assert result.outcome.step_up.factors == (policy.TOTP,)


@pytest.mark.parametrize(
    "enrolled,prompts,goto,error",
    [
        (frozenset(), frozenset(), Next.ENROL, None),
        (frozenset({policy.TOTP}), NONE, None, "interaction_required"),
    ],
)
def test_step_up_leads_to_enrolment_or_fails_silently(enrolled, prompts, goto, error):
    ctx = signed_in(request=req(prompts=prompts), requirement=MFA_CLIENT, enrolled=enrolled)
    outcome = run(ctx).outcome
    assert (outcome.goto, outcome.error) == (goto, error)


def test_unmet_essential_acr_is_access_denied_M02():
    ctx = signed_in(request=req(), requirement=policy.Requirement(essential=("urn:idp:acr:phr",)))
    outcome = run(ctx).outcome
    assert outcome.error == "access_denied"


def test_issue_carries_the_time_of_the_latest_factor_that_counted():
    ctx = signed_in(
        request=req(),
        requirement=MFA_CLIENT,
        factors={policy.PASSWORD: T - 100, policy.TOTP: T - 40},
        enrolled=frozenset({policy.TOTP}),
    )
    issue = run(ctx).issue
    assert (issue.auth_time, issue.acr, issue.amr) == (T - 40, ACR_MFA, ("pwd", "otp", "mfa"))


def test_a_factor_older_than_max_age_does_not_set_auth_time():
    ctx = signed_in(
        request=req(max_age=150),
        requirement=policy.Requirement(max_age=150),  # as mfa.requirements builds it
        factors={policy.PASSWORD: T - 100, policy.EMAIL: T - 200},
    )
    issue = run(ctx).issue
    assert (issue.auth_time, issue.acr, issue.amr) == (T - 100, ACR_PASSWORD, ("pwd",))


ORG_FACTS = OrgFacts(
    frozenset({"einvoice:submit", "einvoice:view"}),
    (1, 2),
    {1: frozenset({"einvoice:view"}), 2: frozenset()},
)
ORG_SCOPES = ("openid", "einvoice:submit", "einvoice:view")


@pytest.mark.parametrize(
    "flow_org,prompts,step,goto,error,refused",
    [
        (None, frozenset(), "organisation", Next.SELECT_ORG, None, False),
        (None, NONE, "organisation", None, "account_selection_required", False),
        (2, frozenset(), "organisation", None, None, True),  # no right in org 2
        (2, NONE, "organisation", None, "access_denied", False),
        (1, frozenset(), "issue", None, None, False),
    ],
)
def test_organisation_step(flow_org, prompts, step, goto, error, refused):
    ctx = signed_in(
        request=req(scopes=ORG_SCOPES, prompts=prompts),
        orgs=ORG_FACTS,
        flow_org_id=flow_org,
        skip_consent=True,
    )
    result = run(ctx)
    assert result.step == step
    if step != "issue":
        assert (result.outcome.goto, result.outcome.error) == (goto, error)
        assert (result.outcome.refused is not None) == refused
    else:
        assert result.issue.org_id == 1
        assert result.issue.scope == ("openid", "einvoice:view")  # E-05: only held


def test_select_account_ignores_the_remembered_organisation():
    facts = OrgFacts(ORG_FACTS.declared, (1, 2), {1: frozenset({"einvoice:view"})}, remembered=1)
    base = dict(orgs=facts, skip_consent=True)
    assert run(signed_in(request=req(scopes=ORG_SCOPES), **base)).issue.org_id == 1
    asked = run(
        signed_in(request=req(scopes=ORG_SCOPES, prompts=frozenset({"select_account"})), **base)
    )
    assert asked.outcome.goto is Next.SELECT_ORG


def _diagram_steps() -> list[str]:
    """The step names at the start of the lines of the module docstring's diagram."""
    names = []
    for line in (pipeline.__doc__ or "").splitlines():
        match = re.match(r"^    ([a-z_]+)\s", line)
        if match:
            names.append(match.group(1))
    return names


def test_the_docstring_diagram_matches_the_table():
    assert _diagram_steps() == [s.name for s in pipeline.STEPS] + [pipeline.ISSUE]


def test_every_interaction_has_an_endpoint():
    assert set(ENDPOINTS) == set(Next)
