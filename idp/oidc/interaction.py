"""The one map from the pages a sign-in can be sent to (``pipeline.Next``) to their
endpoints (used by /authorize and by the consoles' step-up guard)."""

from __future__ import annotations

from flask import url_for

from idp.oidc.pipeline import Next

ENDPOINTS = {
    Next.LOGIN: "account.login",
    Next.SECOND_FACTOR: "mfa.challenge",
    Next.ENROL: "mfa.enrol",
    Next.SELECT_ORG: "orgs.select",
    Next.CONSENT: "oidc.consent",
}


def url_for_next(step: Next, flow_id: str) -> str:
    return url_for(ENDPOINTS[step], flow=flow_id)
