"""Sign-in flows parked in the server-side session while the person signs in, steps
up, chooses an organisation or consents.

A ``Flow`` is a frozen value; this module is the only code that reads or writes its
session storage (``session["flows"]``). A flow is bound to the session that started it,
so its id is useless in another browser, and to the exact request parameters it was
created for (a replay with other parameters starts afresh). Changing a flow means
``save(flow.evolve(...))``.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import session, url_for

from idp.db import now
from idp.oidc.pipeline import StepUp

MAX_FLOWS = 5
FLOW_TTL = 1800
FLOW_PARAM = "idp_flow"  # the query parameter that ties /authorize back to its flow
_KEY = "flows"


@dataclass(frozen=True)
class Flow:
    id: str
    started: int
    params: tuple[tuple[str, str], ...] = ()  # the /authorize request, in order
    client_id: str = ""
    ui_locales: str | None = None
    consented: bool = False  # the person consented within this flow
    org_id: int | None = None  # the organisation chosen within this flow
    step_up: StepUp | None = None  # set while a second factor or enrolment is due
    # An IdP page (a console) that demanded a step-up; set by the server, never
    # taken from the request, so it is always one of our paths.
    return_to: str | None = None
    # Who asks for the step-up of an IdP page: "org_console" | "operator_console"
    # (the pages say so instead of "this application"); None for a relying party.
    asked_by: str | None = None
    # The login page confirms the signed-in person's password again (prompt=login,
    # max_age, a console's age limit) rather than starting a new sign-in.
    reauth: bool = False

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    def evolve(self, **changes: Any) -> Flow:
        return dataclasses.replace(self, **changes)

    @property
    def continue_url(self) -> str:
        """Where the flow resumes: its /authorize request, or the IdP page that
        started it."""
        if self.return_to:
            return self.return_to
        return authorize_url(self.id, self.params)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["params"] = [list(p) for p in self.params]
        data["step_up"] = (
            {"required": self.step_up.required, "factors": list(self.step_up.factors)}
            if self.step_up
            else None
        )
        del data["id"]
        return data

    @classmethod
    def from_dict(cls, flow_id: str, data: dict[str, Any]) -> Flow:
        # "mfa" is the key of flows stored before issue 8 (live for at most FLOW_TTL).
        step_up = data.get("step_up") or data.get("mfa")
        return cls(
            id=flow_id,
            started=int(data["started"]),
            params=tuple((str(k), str(v)) for k, v in data.get("params") or ()),
            client_id=data.get("client_id") or "",
            ui_locales=data.get("ui_locales"),
            consented=bool(data.get("consented")),
            org_id=data.get("org_id"),
            step_up=StepUp(step_up["required"], tuple(step_up["factors"])) if step_up else None,
            return_to=data.get("return_to"),
            asked_by=data.get("asked_by"),
            reauth=bool(data.get("reauth")),
        )


def authorize_url(flow_id: str, params: tuple[tuple[str, str], ...]) -> str:
    return url_for("oidc.authorize") + "?" + urlencode([*params, (FLOW_PARAM, flow_id)])


def _live() -> dict[str, dict[str, Any]]:
    stored = session.get(_KEY) or {}
    t = now()
    return {k: v for k, v in stored.items() if t - v.get("started", 0) < FLOW_TTL}


def _store(flow: Flow) -> Flow:
    stored = _live()
    if flow.id not in stored:
        while len(stored) >= MAX_FLOWS:
            stored.pop(min(stored, key=lambda k: stored[k]["started"]))
    stored[flow.id] = flow.to_dict()
    session[_KEY] = stored
    return flow


def start(params: tuple[tuple[str, str], ...], ui_locales: str | None, client_id: str) -> Flow:
    """A flow for an authorization request of a relying party."""
    return _store(
        Flow(
            id=secrets.token_urlsafe(16),
            started=now(),
            params=params,
            ui_locales=ui_locales,
            client_id=client_id,
        )
    )


def start_step_up(
    return_to: str, step_up: StepUp, asked_by: str | None = None, reauth: bool = False
) -> Flow:
    """A flow for a second factor demanded by an IdP page (e.g. a console), not by a
    relying party; the MFA pages send the browser back to ``return_to`` and name
    ``asked_by`` as the one asking."""
    return _store(
        Flow(
            id=secrets.token_urlsafe(16),
            started=now(),
            consented=True,
            return_to=return_to,
            step_up=step_up,
            asked_by=asked_by,
            reauth=reauth,
        )
    )


def load(flow_id: str | None) -> Flow | None:
    if not flow_id:
        return None
    data = _live().get(flow_id)
    return Flow.from_dict(flow_id, data) if data is not None else None


def save(flow: Flow) -> Flow:
    """Store a changed flow (only while it is still live)."""
    if flow.id in _live():
        _store(flow)
    return flow


def finish(flow_id: str | None) -> None:
    stored = _live()
    if flow_id and stored.pop(flow_id, None) is not None:
        session[_KEY] = stored
