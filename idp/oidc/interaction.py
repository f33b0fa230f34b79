"""The one map from the pages a sign-in can be sent to (``pipeline.Next``) to their
endpoints (used by /authorize and by the consoles' step-up guard), and who is asking
on those pages."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.models import Client
from idp.oidc.flows import Flow
from idp.oidc.pipeline import Next

ENDPOINTS = {
    Next.LOGIN: "account.login",
    Next.SECOND_FACTOR: "mfa.challenge",
    Next.ENROL: "mfa.enrol",
    Next.SELECT_ORG: "orgs.select",
    Next.CONSENT: "oidc.consent",
    Next.MEMBERSHIP: "oidc.membership",
    Next.TERMS: "oidc.notice",
    Next.PASSWORD_CHANGE: "account.new_password",
}


def url_for_next(step: Next, flow_id: str) -> str:
    return url_for(ENDPOINTS[step], flow=flow_id)


# Who may ask for a password or a second factor (the pages name them, never a vague
# "this application"): a relying party, one of the consoles, or the person themself.
ASKERS = ("client", "org_console", "operator_console", "account")


@dataclass(frozen=True)
class Asker:
    kind: str  # one of ASKERS
    name: str = ""  # the relying party's name (kind "client")


def who_asks(db: Session, flow: Flow | None) -> Asker:
    """Who wants what a flow's pages ask for: the console that started it, else the
    relying party of its /authorize request, else the person on their account page."""
    if flow is None:
        return Asker("account")
    if flow.asked_by in ASKERS:
        return Asker(flow.asked_by)
    if flow.client_id:
        name = db.scalar(select(Client.name).where(Client.client_id == flow.client_id))
        return Asker("client", name or flow.client_id)
    return Asker("account")
