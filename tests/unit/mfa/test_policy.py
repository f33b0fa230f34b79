"""The step-up policy table (pure; STYLE.md "Step-up policy is a pure function")."""

from __future__ import annotations

import pytest

from idp.mfa.policy import (
    EMAIL,
    PASSWORD,
    RECOVERY,
    TOTP,
    WEBAUTHN,
    WEBAUTHN_UV,
    Requirement,
    SessionAuth,
    achieved,
    amr_for,
    decide,
)
from idp.oidc.acr import ACR_MFA, ACR_MFA_EMAIL, ACR_PASSWORD, ACR_PHISHING_RESISTANT

T = 1_800_000_000
PWD = {PASSWORD: T - 100}
NONE = frozenset()
MAIL = frozenset({EMAIL})
TOTP_USER = frozenset({EMAIL, TOTP})
KEY_USER = frozenset({EMAIL, WEBAUTHN})


@pytest.mark.parametrize(
    "req,factors,enrolled,satisfied,next_step,acr",
    [
        # password-only client
        (Requirement(), PWD, MAIL, True, None, ACR_PASSWORD),
        (Requirement(), {}, MAIL, False, "password", None),
        # client minimum mfa
        (Requirement(client_min=ACR_MFA), PWD, TOTP_USER, False, "second_factor", None),
        (Requirement(client_min=ACR_MFA), PWD, MAIL, False, "enrol", None),
        (Requirement(client_min=ACR_MFA), {**PWD, TOTP: T - 50}, TOTP_USER, True, None, ACR_MFA),
        (
            Requirement(client_min=ACR_MFA),
            {**PWD, EMAIL: T - 50},
            TOTP_USER,
            False,
            "second_factor",
            None,
        ),
        (Requirement(client_min=ACR_MFA), {**PWD, RECOVERY: T - 5}, TOTP_USER, True, None, ACR_MFA),
        # email is a lower rung, never mfa (SECURITY.md 0.2)
        (Requirement(client_min=ACR_MFA_EMAIL), PWD, MAIL, False, "second_factor", None),
        (Requirement(client_min=ACR_MFA_EMAIL), {**PWD, EMAIL: T}, MAIL, True, None, ACR_MFA_EMAIL),
        (
            Requirement(client_min=ACR_MFA_EMAIL, email_allowed=False),
            PWD,
            MAIL,
            False,
            "enrol",
            None,
        ),
        # phr needs WebAuthn with user verification
        (
            Requirement(client_min=ACR_PHISHING_RESISTANT),
            {**PWD, TOTP: T},
            TOTP_USER,
            False,
            "enrol",
            None,
        ),
        (
            Requirement(client_min=ACR_PHISHING_RESISTANT),
            {**PWD, WEBAUTHN: T},
            KEY_USER,
            False,
            "second_factor",
            None,
        ),
        (
            Requirement(client_min=ACR_PHISHING_RESISTANT),
            {**PWD, WEBAUTHN_UV: T},
            KEY_USER,
            True,
            None,
            ACR_PHISHING_RESISTANT,
        ),
        # voluntary acr_values: met when possible, else fall back
        (Requirement(voluntary=(ACR_MFA,)), PWD, TOTP_USER, False, "second_factor", None),
        (Requirement(voluntary=(ACR_MFA,)), PWD, MAIL, True, None, ACR_PASSWORD),
        (Requirement(voluntary=("urn:unknown",)), PWD, TOTP_USER, True, None, ACR_PASSWORD),
        # essential: met or refused
        (Requirement(essential=(ACR_MFA,)), PWD, MAIL, False, "deny", None),
        (Requirement(essential=(ACR_MFA,)), PWD, TOTP_USER, False, "second_factor", None),
        (Requirement(essential=("urn:unknown",)), PWD, TOTP_USER, False, "deny", None),
        (
            Requirement(essential=(ACR_MFA, ACR_PHISHING_RESISTANT)),
            {**PWD, TOTP: T},
            TOTP_USER,
            True,
            None,
            ACR_MFA,
        ),
        # scope levels
        (Requirement(scope_levels=(ACR_MFA,)), PWD, TOTP_USER, False, "second_factor", None),
        # freshness: a factor before the cut-off counts for nothing
        (
            Requirement(client_min=ACR_MFA, max_age=60),
            {PASSWORD: T - 10, TOTP: T - 100},
            TOTP_USER,
            False,
            "second_factor",
            None,
        ),
        (
            Requirement(client_min=ACR_MFA, max_age=60),
            {PASSWORD: T - 100, TOTP: T - 10},
            TOTP_USER,
            False,
            "password",
            None,
        ),
        (
            Requirement(client_min=ACR_MFA, login_after=T - 20),
            {PASSWORD: T - 10, TOTP: T - 5},
            TOTP_USER,
            True,
            None,
            ACR_MFA,
        ),
    ],
)
def test_policy_table(req, factors, enrolled, satisfied, next_step, acr):
    d = decide(req, SessionAuth(factors, enrolled), T)
    assert d.satisfied is satisfied
    assert d.next_step == next_step
    if satisfied:
        assert d.acr == acr
    else:
        assert d.reasons


def test_next_factors_offered_match_level():
    d = decide(
        Requirement(client_min=ACR_MFA), SessionAuth(PWD, frozenset({EMAIL, TOTP, WEBAUTHN})), T
    )
    assert EMAIL not in d.factors and TOTP in d.factors and WEBAUTHN in d.factors


def test_enrolment_offers_only_strong_factors():
    d = decide(Requirement(client_min=ACR_MFA), SessionAuth(PWD, MAIL), T)
    assert set(d.factors) <= {TOTP, WEBAUTHN, WEBAUTHN_UV} and TOTP in d.factors


@pytest.mark.parametrize(
    "factors,acr,amr",
    [
        ({PASSWORD}, ACR_PASSWORD, ("pwd",)),
        ({PASSWORD, TOTP}, ACR_MFA, ("pwd", "otp", "mfa")),
        ({PASSWORD, EMAIL}, ACR_MFA_EMAIL, ("pwd", "email", "mfa")),
        ({PASSWORD, WEBAUTHN_UV}, ACR_PHISHING_RESISTANT, ("pwd", "hwk", "user", "mfa")),
        ({TOTP}, None, ("otp",)),
    ],
)
def test_achieved_level_and_amr_rfc8176(factors, acr, amr):
    assert achieved(factors) == acr
    assert amr_for(factors) == amr
