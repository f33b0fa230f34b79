"""Authorization flows parked in the server-side session while the person signs in
or consents. A flow is bound to the session that started it, so its id is useless in
another browser, and to the exact request parameters it was created for."""

from __future__ import annotations

import secrets
from typing import Any

from flask import session

from idp.db import now

MAX_FLOWS = 5
FLOW_TTL = 1800


def _flows() -> dict[str, dict[str, Any]]:
    flows = session.get("flows") or {}
    t = now()
    return {k: v for k, v in flows.items() if t - v.get("started", 0) < FLOW_TTL}


def start_flow(params: list[list[str]], ui_locales: str | None, client_id: str) -> str:
    flows = _flows()
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda k: flows[k]["started"]))
    flow_id = secrets.token_urlsafe(16)
    flows[flow_id] = {
        "params": params,
        "started": now(),
        "ui_locales": ui_locales,
        "client_id": client_id,
        "consented": False,
    }
    session["flows"] = flows
    return flow_id


def start_step_up(return_to: str, required: str, factors: list[str]) -> str:
    """A flow for a second factor demanded by an IdP page (e.g. a console), not by a
    relying party; the MFA pages send the browser back to ``return_to``."""
    flows = _flows()
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda k: flows[k]["started"]))
    flow_id = secrets.token_urlsafe(16)
    flows[flow_id] = {
        "params": [],
        "started": now(),
        "ui_locales": None,
        "client_id": "",
        "consented": True,
        "return_to": return_to,
        "mfa": {"required": required, "factors": factors},
    }
    session["flows"] = flows
    return flow_id


def get_flow(flow_id: str | None) -> dict[str, Any] | None:
    if not flow_id:
        return None
    return _flows().get(flow_id)


def update_flow(flow_id: str, **changes: Any) -> None:
    flows = _flows()
    if flow_id in flows:
        flows[flow_id].update(changes)
        session["flows"] = flows


def finish_flow(flow_id: str | None) -> None:
    flows = _flows()
    if flow_id and flows.pop(flow_id, None) is not None:
        session["flows"] = flows
