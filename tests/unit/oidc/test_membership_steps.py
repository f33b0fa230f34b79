"""The issue-10 sign-in steps (pure): ``membership`` (SECURITY.md R-05) and ``terms``
(the PDPA notice), as decision tables."""

from __future__ import annotations

import pytest

from idp.enrollment.membership import MemberType, State, Status
from idp.mfa import policy
from idp.oidc.pipeline import Context, Next, SignInRequest, run

T = 1_900_000_000
NONE = frozenset({"none"})
PUBLIC, STAFF = MemberType.PUBLIC, MemberType.STAFF


def ctx(state=None, required=None, current=None, accepted=None, prompts=frozenset()):
    return Context(
        request=SignInRequest(scopes=("openid",), prompts=prompts),
        now=T,
        user_sub="u1",
        factors={policy.PASSWORD: T - 100},
        consented_scopes=frozenset({"openid"}),
        membership=state,
        required_membership=required,
        notice_current=current,
        notice_accepted=accepted,
    )


@pytest.mark.parametrize(
    "state,required,step,reason",
    [
        (State(PUBLIC, Status.VERIFIED), None, "issue", None),
        (State(PUBLIC, Status.VERIFIED), "verified", "issue", None),
        (State(STAFF, Status.STAFF_VERIFIED), "staff_verified", "issue", None),
        (State(STAFF, Status.STAFF_VERIFIED), "verified", "issue", None),
        (State(PUBLIC, Status.TEMPORARY, T + 10), None, "issue", None),
        (State(PUBLIC, Status.TEMPORARY, T), None, "membership", "membership_expired"),
        (State(PUBLIC, Status.EXPIRED), None, "membership", "membership_expired"),
        (State(STAFF, Status.PENDING), None, "membership", "membership_pending"),
        (State(STAFF, Status.REJECTED), None, "membership", "membership_rejected"),
        (
            State(PUBLIC, Status.TEMPORARY, T + 10),
            "verified",
            "membership",
            "membership_insufficient",
        ),
        (State(PUBLIC, Status.VERIFIED), "staff_verified", "membership", "membership_insufficient"),
        (None, "verified", "issue", None),  # nobody's membership known: nothing to check
    ],
)
def test_membership_step_R05(state, required, step, reason):
    result = run(ctx(state, required))
    assert result.step == step
    if reason:
        assert result.outcome.reasons == (reason,)
        assert result.outcome.goto is Next.MEMBERSHIP


@pytest.mark.parametrize(
    "state",
    [State(PUBLIC, Status.EXPIRED), State(STAFF, Status.PENDING), State(STAFF, Status.REJECTED)],
)
def test_membership_step_silent_is_interaction_required_oidc_core_3_1_2_6(state):
    outcome = run(ctx(state, prompts=NONE)).outcome
    assert outcome.error == "interaction_required" and outcome.goto is None


@pytest.mark.parametrize(
    "current,accepted,step,reason",
    [
        (None, None, "issue", None),  # no notice published
        (1, 1, "issue", None),
        (2, 3, "issue", None),
        (1, None, "terms", "notice_never_accepted"),
        (2, 1, "terms", "notice_outdated"),
    ],
)
def test_terms_step_asks_for_the_newest_notice_pdpa(current, accepted, step, reason):
    result = run(ctx(State(PUBLIC, Status.VERIFIED), current=current, accepted=accepted))
    assert result.step == step
    if reason:
        assert result.outcome.reasons == (reason,) and result.outcome.goto is Next.TERMS


def test_terms_step_silent_is_interaction_required():
    outcome = run(ctx(State(PUBLIC, Status.VERIFIED), current=2, accepted=1, prompts=NONE)).outcome
    assert outcome.error == "interaction_required"


def test_membership_comes_before_the_notice():
    result = run(ctx(State(PUBLIC, Status.EXPIRED), current=2, accepted=1))
    assert result.step == "membership"
