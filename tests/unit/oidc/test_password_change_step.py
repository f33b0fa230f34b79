"""The issue-11 sign-in step ``password_change`` (pure, MISSION B2): an account an
operator made or flagged chooses its own password before any client gets a token."""

from __future__ import annotations

import pytest

from idp.enrollment.membership import MemberType, State, Status
from idp.mfa import policy
from idp.oidc.pipeline import Context, Next, SignInRequest, run

T = 1_900_000_000
NONE = frozenset({"none"})


def ctx(must_change=True, prompts=frozenset(), user_sub="u1", **kw):
    return Context(
        request=SignInRequest(scopes=("openid",), prompts=prompts),
        now=T,
        user_sub=user_sub,
        factors={policy.PASSWORD: T - 100} if user_sub else {},
        consented_scopes=frozenset({"openid"}),
        must_change_password=must_change,
        **kw,
    )


@pytest.mark.parametrize(
    "prompts,goto,error",
    [
        (frozenset(), Next.PASSWORD_CHANGE, None),
        (NONE, None, "interaction_required"),  # OIDC Core 3.1.2.6: act at the provider
    ],
)
def test_a_flagged_account_gets_no_code_before_choosing_a_password_B2(prompts, goto, error):
    result = run(ctx(True, prompts))
    assert (result.step, result.issue) == ("password_change", None)
    assert (result.outcome.goto, result.outcome.error) == (goto, error)
    assert result.outcome.reasons == ("password_change_required",)


@pytest.mark.parametrize("prompts", [frozenset(), NONE])
def test_an_account_without_the_flag_gets_its_code(prompts):
    result = run(ctx(False, prompts))
    assert result.step == "issue" and result.issue is not None


def test_nobody_signed_in_is_asked_to_sign_in_first():
    result = run(ctx(True, user_sub=None))
    assert (result.step, result.outcome.goto) == ("authenticate", Next.LOGIN)


def test_the_change_comes_after_membership_and_before_the_notice_and_step_up():
    """A temporary membership past its date is told first (it decides whether any client
    may be reached); the notice and a second factor come after the new password."""
    expired = State(MemberType.PUBLIC, Status.EXPIRED)
    assert run(ctx(True, membership=expired)).step == "membership"
    assert run(ctx(True, notice_current=2, notice_accepted=1)).step == "password_change"
    needs_mfa = policy.Requirement(client_min="urn:idp:acr:mfa")
    assert run(ctx(True, requirement=needs_mfa, enrolled=frozenset({"totp"}))).step == (
        "password_change"
    )
    assert run(ctx(False, requirement=needs_mfa, enrolled=frozenset({"totp"}))).step == "step_up"
