"""The interaction pages a sign-in can be sent to, and the one map from their names to
endpoints (used by /authorize and by the consoles' step-up guard)."""

from __future__ import annotations

from enum import Enum

from flask import url_for


class Next(Enum):
    LOGIN = "login"
    SECOND_FACTOR = "second_factor"
    ENROL = "enrol"
    SELECT_ORG = "select_org"
    CONSENT = "consent"


ENDPOINTS = {
    Next.LOGIN: "account.login",
    Next.SECOND_FACTOR: "mfa.challenge",
    Next.ENROL: "mfa.enrol",
    Next.SELECT_ORG: "orgs.select",
    Next.CONSENT: "oidc.consent",
}

# ``mfa.policy.Decision.next_step`` -> the page that obtains it ("deny" has none).
STEP_UP_NEXT = {
    "password": Next.LOGIN,
    "second_factor": Next.SECOND_FACTOR,
    "enrol": Next.ENROL,
}


def url_for_next(step: Next, flow_id: str) -> str:
    return url_for(ENDPOINTS[step], flow=flow_id)
