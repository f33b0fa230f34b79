"""The step-up guard shared by the org admin and operator consoles: ``mfa`` (no email
OTP), a 12-hour absolute and a 15-minute idle limit (SECURITY.md section 7, S-04)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, session
from flask_login import current_user

from idp.account import auth_state
from idp.db import now
from idp.db import session as db_session
from idp.mfa import policy
from idp.mfa.requirements import Audience, build_requirement
from idp.mfa.services import enrolled_kinds
from idp.oidc import flows
from idp.oidc.acr import ACR_MFA
from idp.oidc.interaction import url_for_next
from idp.oidc.pipeline import STEP_UP_NEXT, Next, StepUp

CONSOLE = Audience(min_acr=ACR_MFA, email_allowed=False)
CONSOLE_MAX_AGE = 12 * 3600
CONSOLE_IDLE = 15 * 60
_SEEN = "console_seen"


def console_step_up(console: str) -> Any | None:
    """Redirect to what is missing (password, second factor or enrolment), or None when
    the session may use a console; then the console's idle clock restarts. ``console``
    ("org_console" or "operator_console") is named on those pages as the one asking."""
    t = now()
    seen = session.get(_SEEN)
    # After 15 idle minutes the whole login is done again: only factors proven after
    # the last console request count.
    not_before = seen + 1 if seen is not None and t - seen > CONSOLE_IDLE else None
    requirement = build_requirement(
        db_session(), CONSOLE, max_age=CONSOLE_MAX_AGE, not_before=not_before
    )
    decision = policy.decide(
        requirement,
        policy.SessionAuth(auth_state.factors(), enrolled_kinds(db_session(), current_user.id, t)),
        t,
    )
    if decision.satisfied:
        session[_SEEN] = t
        return None
    # Back to the same page afterwards, with its query for a GET (a search, a filter);
    # only paths of routes behind this guard get here, so it stays on this site.
    back = request.full_path.rstrip("?") if request.method == "GET" else request.path
    goto = STEP_UP_NEXT.get(decision.next_step or "", Next.SECOND_FACTOR)
    flow = flows.start_step_up(
        back,
        StepUp(decision.required, decision.factors),
        asked_by=console,
        reauth=goto is Next.LOGIN,  # the person is signed in: their password again
    )
    return redirect(url_for_next(goto, flow.id), code=303)
