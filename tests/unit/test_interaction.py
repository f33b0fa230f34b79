"""The authorization interaction decision (pure): OIDC Core 3.1.2.1 prompt, max_age,
id_token_hint; consent."""

from __future__ import annotations

import pytest

from idp.oidc.interaction import Demand, SessionState, Step, decide

T = 1_900_000_000
SIGNED_IN = SessionState(user_sub="u1", auth_time=T - 100, consented_scopes=frozenset({"openid"}))
OPENID = frozenset({"openid"})


@pytest.mark.parametrize(
    "demand,state,step,reasons,error",
    [
        (Demand(scopes=OPENID), SessionState(), Step.LOGIN, ("no_session",), None),
        (
            Demand(prompts=frozenset({"none"}), scopes=OPENID),
            SessionState(),
            Step.ERROR,
            ("no_session",),
            "login_required",
        ),
        (Demand(scopes=OPENID), SIGNED_IN, Step.ISSUE, (), None),
        (
            Demand(prompts=frozenset({"login"}), scopes=OPENID),
            SIGNED_IN,
            Step.LOGIN,
            ("prompt_login",),
            None,
        ),
        (Demand(max_age=100, scopes=OPENID), SIGNED_IN, Step.ISSUE, (), None),
        (Demand(max_age=99, scopes=OPENID), SIGNED_IN, Step.LOGIN, ("max_age",), None),
        (
            Demand(max_age=0, prompts=frozenset({"none"}), scopes=OPENID),
            SIGNED_IN,
            Step.ERROR,
            ("max_age",),
            "login_required",
        ),
        (
            Demand(hint_sub="other", scopes=OPENID),
            SIGNED_IN,
            Step.LOGIN,
            ("id_token_hint_mismatch",),
            None,
        ),
        (
            Demand(hint_sub="u1", prompts=frozenset({"none"}), scopes=OPENID),
            SIGNED_IN,
            Step.ISSUE,
            (),
            None,
        ),
        (
            Demand(scopes=frozenset({"openid", "email"})),
            SIGNED_IN,
            Step.CONSENT,
            ("consent_missing",),
            None,
        ),
        (
            Demand(scopes=frozenset({"openid", "email"}), prompts=frozenset({"none"})),
            SIGNED_IN,
            Step.ERROR,
            ("consent_missing",),
            "consent_required",
        ),
        (
            Demand(scopes=frozenset({"openid", "email"}), skip_consent=True),
            SIGNED_IN,
            Step.ISSUE,
            (),
            None,
        ),
        (
            Demand(prompts=frozenset({"consent"}), scopes=OPENID),
            SIGNED_IN,
            Step.CONSENT,
            ("prompt_consent",),
            None,
        ),
        (
            Demand(scopes=OPENID),
            SessionState(user_sub="u1", auth_time=T, consented_scopes=None),
            Step.CONSENT,
            ("consent_missing",),
            None,
        ),
        (
            Demand(prompts=frozenset({"login"}), max_age=0, scopes=OPENID),
            SIGNED_IN,
            Step.LOGIN,
            ("prompt_login", "max_age"),
            None,
        ),
    ],
)
def test_decision_table(demand, state, step, reasons, error):
    decision = decide(demand, state, T)
    assert decision.step is step
    assert decision.reasons == reasons
    assert decision.error == error


def test_login_within_the_same_flow_satisfies_prompt_login_and_max_age():
    state = SessionState(user_sub="u1", auth_time=T, consented_scopes=OPENID, flow_started=T - 5)
    demand = Demand(prompts=frozenset({"login"}), max_age=0, scopes=OPENID)
    assert decide(demand, state, T + 3).step is Step.ISSUE


def test_login_before_the_flow_started_does_not_satisfy_prompt_login():
    state = SessionState(
        user_sub="u1", auth_time=T - 10, consented_scopes=OPENID, flow_started=T - 5
    )
    assert decide(Demand(prompts=frozenset({"login"}), scopes=OPENID), state, T).step is Step.LOGIN


def test_consent_given_in_flow_is_enough_even_with_prompt_consent():
    state = SessionState(user_sub="u1", auth_time=T, consented_scopes=None, flow_consented=True)
    assert (
        decide(Demand(prompts=frozenset({"consent"}), scopes=OPENID), state, T).step is Step.ISSUE
    )
