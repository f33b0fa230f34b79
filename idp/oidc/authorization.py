"""/authorize and the consent step (OIDC Core 3.1.2, RFC 6749 4.1, RFC 9207).

Authlib validates client, redirect URI, response type, scope, PKCE and nonce; this view
adds what Authlib leaves to us (SECURITY.md 6): prompt handling, server-side max_age,
id_token_hint, the stored auth_time, consent, and iss on error redirects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select

from idp.account import auth_state, lockout
from idp.db import now
from idp.db import session as db_session
from idp.extensions import keys
from idp.mfa import policy
from idp.mfa.services import enrolled_kinds
from idp.models import ClientScope, Consent
from idp.oidc import flows
from idp.oidc.blueprint import bp, server
from idp.oidc.claims_request import ClaimsParameterError, essential_acr
from idp.oidc.errors import error_page, malformed_request_page, redirect_error
from idp.oidc.interaction import Demand, SessionState, Step, decide
from idp.oidc.keys import ALGORITHMS
from idp.oidc.scopes import split_scope
from idp.orgs.login import decide_org

SINGLE_VALUED = (
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "id_token_hint",
    "login_hint",
    "ui_locales",
    "acr_values",
    "response_mode",
    "claims",
)
MAX_PARAM_LENGTH = 4096


class ConsentForm(FlaskForm):
    pass


def request_params() -> list[list[str]]:
    return [[k, v] for k, v in request.values.items(multi=True) if k != "idp_flow"]


def flow_url(flow_id: str, params: list[list[str]]) -> str:
    pairs = [(k, v) for k, v in params] + [("idp_flow", flow_id)]
    return url_for("oidc.authorize") + "?" + urlencode(pairs)


def continue_url(flow_id: str, flow: dict) -> str:
    """Where a flow resumes: its /authorize request, or the IdP page that started it
    (``return_to`` is always set by the server, never taken from the request)."""
    if flow.get("return_to"):
        return flow["return_to"]
    return flow_url(flow_id, flow["params"])


def _oauth_error(err: OAuth2Error) -> Any:
    if err.redirect_uri:
        return redirect_error(
            err.redirect_uri, err.error, err.description, request.values.get("state")
        )
    return error_page(err.error, err.description)


def _hint_sub(hint: str) -> str | None:
    """The ``sub`` of an ID token we issued; expiry is ignored (OIDC Core 3.1.2.1)."""
    ring = keys().get(db_session())
    try:
        token = jwt.decode(hint, ring.public_set, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError):
        return None
    sub = token.claims.get("sub")
    return sub if isinstance(sub, str) else None


def _check_extras(data: Any) -> tuple[str, str] | None:
    """Checks Authlib does not make: (error, description) or None."""
    for name in SINGLE_VALUED:
        if len(data.getlist(name)) > 1:
            return "invalid_request", f"Multiple '{name}' in request."
    for name, value in data.items(multi=True):
        if len(value) > MAX_PARAM_LENGTH:
            return "invalid_request", f"Parameter '{name}' is too long."
    if "request" in data:
        return "request_not_supported", "Request objects are not supported."
    if "request_uri" in data:
        return "request_uri_not_supported", "request_uri is not supported."
    if data.get("response_mode", "query") != "query":
        return "invalid_request", "Only response_mode=query is supported."
    max_age = data.get("max_age")
    if max_age is not None and (not max_age.isdigit() or len(max_age) > 10):
        return "invalid_request", "max_age must be a non-negative integer."
    try:
        essential_acr(data.get("claims"))
    except ClaimsParameterError as exc:
        return "invalid_request", str(exc)
    return None


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    data = request.values
    if (malformed := malformed_request_page(data)) is not None:
        return malformed
    user = current_user if current_user.is_authenticated else None
    try:
        grant = server().get_consent_grant(end_user=user)
    except OAuth2Error as err:
        return _oauth_error(err)
    redirect_uri, state = grant.redirect_uri, data.get("state")
    problem = _check_extras(data)
    if problem:
        return redirect_error(redirect_uri, problem[0], problem[1], state)
    hint_sub = None
    if data.get("id_token_hint"):
        hint_sub = _hint_sub(data["id_token_hint"])
        if hint_sub is None:
            return redirect_error(redirect_uri, "invalid_request", "Invalid id_token_hint.", state)

    client = grant.request.client
    scopes = frozenset(split_scope(grant.request.scope))
    params = request_params()
    flow_id = data.get("idp_flow")
    flow = flows.get_flow(flow_id)
    if flow is not None and flow["params"] != params:
        flow, flow_id = None, None
    consented = None
    if user is not None:
        consent = db_session().scalar(
            select(Consent).where(Consent.user_id == user.id, Consent.client_id == client.client_id)
        )
        consented = frozenset(split_scope(consent.scope)) if consent else None
    auth = session.get("auth") or {}
    demand = Demand(
        prompts=frozenset((data.get("prompt") or "").split()),
        max_age=int(data["max_age"]) if data.get("max_age") else None,
        hint_sub=hint_sub,
        scopes=scopes,
        skip_consent=client.row.skip_consent,
    )
    state_now = SessionState(
        user_sub=user.sub if user is not None else None,
        auth_time=auth.get("time") if user is not None else None,
        consented_scopes=consented,
        flow_started=flow["started"] if flow else None,
        flow_consented=bool(flow and flow.get("consented")),
    )
    decision = decide(demand, state_now, now())
    if decision.step is Step.ERROR:
        return redirect_error(redirect_uri, decision.error, decision.description, state)

    def interact(endpoint: str, **flow_changes: Any) -> Any:
        """Park the request in a flow (or reuse this one) and send the browser on."""
        fid = flow_id or flows.start_flow(params, data.get("ui_locales"), client.client_id)
        if flow_changes:
            flows.update_flow(fid, **flow_changes)
        return redirect(url_for(endpoint, flow=fid), code=303)

    if decision.step is Step.LOGIN:
        return interact("account.login")

    # Login, then step-up, then consent: nobody is asked to consent before they are
    # fully authenticated for this client.
    step_up = _step_up(client, scopes, data, flow, user)
    if not step_up.satisfied:
        if "none" in demand.prompts:
            return redirect_error(
                redirect_uri, "interaction_required", "A second factor is required.", state
            )
        if step_up.next_step == "deny":
            return redirect_error(redirect_uri, "access_denied", step_up.description, state)
        endpoint = {"enrol": "mfa.enrol", "password": "account.login"}.get(
            step_up.next_step or "", "mfa.challenge"
        )
        return interact(
            endpoint, mfa={"required": step_up.required, "factors": list(step_up.factors)}
        )

    # prompt=select_account asks again, ignoring the remembered organisation.
    org = decide_org(
        db_session(),
        client.client_id,
        user,
        split_scope(grant.request.scope),
        (flow or {}).get("org_id"),
        use_remembered="select_account" not in demand.prompts,
    )
    if org.kind == "deny":
        if "none" in demand.prompts:
            return redirect_error(redirect_uri, "access_denied", "No entitlement.", state)
        return render_template("orgs/no_access.html", client=client, decision=org), 403
    if org.kind == "select" and not (flow and flow.get("org_id")):
        if "none" in demand.prompts:
            return redirect_error(
                redirect_uri, "account_selection_required", "Choose an organisation.", state
            )
        return interact("orgs.select")

    if decision.step is Step.CONSENT:
        return interact("oidc.consent")

    if user.failed_logins:
        lockout.record_success(db_session(), user.id)  # the login is complete
    used = {k: t for k, t in auth_state.factors().items() if k in _amr_kinds(step_up)}
    grant.request.idp_auth = {
        "auth_time": max(used.values()) if used else auth["time"],
        "acr": step_up.acr,
        "amr": list(step_up.amr),
        "sid": session.sid,
        "scope": org.scope,
        "org_id": org.org.id if org.org is not None else None,
    }
    flows.finish_flow(flow_id)
    return server().create_authorization_response(grant=grant, grant_user=user)


def _step_up(
    client: Any, scopes: frozenset[str], data: Any, flow: dict | None, user: Any
) -> policy.Decision:
    """Ask the step-up policy; factors proven within this flow count even when
    max_age/prompt=login demanded a fresh login (the flow started before them)."""
    t = now()
    proven = auth_state.factors()
    cutoff = None
    demands_fresh = "login" in (data.get("prompt") or "").split() or data.get("max_age")
    if flow is not None and demands_fresh and proven.get(policy.PASSWORD, 0) >= flow["started"]:
        cutoff = flow["started"]
    elif data.get("max_age"):
        cutoff = t - int(data["max_age"])
    requirement = policy.Requirement(
        client_min=client.row.min_acr,
        scope_levels=_scope_levels(client, scopes),
        voluntary=tuple((data.get("acr_values") or "").split()),
        essential=essential_acr(data.get("claims")),
        login_after=cutoff,
        email_allowed=client.row.allow_email_otp,
    )
    enrolled = enrolled_kinds(db_session(), user.id, t)
    return policy.decide(requirement, policy.SessionAuth(proven, enrolled), t)


def _scope_levels(client: Any, scopes: frozenset[str]) -> tuple[str, ...]:
    """Levels demanded by the requested scopes: the client's --scope-acr settings and
    the assurance level of each organisation scope it declares (issue 4)."""
    levels = [client.row.scope_acr[s] for s in scopes if s in client.row.scope_acr]
    levels += db_session().scalars(
        select(ClientScope.min_acr).where(
            ClientScope.client_id == client.client_id, ClientScope.name.in_(scopes)
        )
    )
    return tuple(levels)


def _amr_kinds(decision: policy.Decision) -> set[str]:
    kinds = {policy.PASSWORD}
    for kind, values in policy.AMR.items():
        if set(values) <= set(decision.amr):
            kinds.add(kind)
    return kinds


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> Any:
    flow_id = request.values.get("flow")
    flow = flows.get_flow(flow_id)
    if flow is None or not current_user.is_authenticated:
        return (
            error_page("flow_expired", None, 400)
            if flow is None
            else redirect(url_for("account.login", flow=flow_id))
        )
    params = dict(flow["params"])
    from idp.oidc.clients import load_client

    client = load_client(db_session(), flow["client_id"])
    if client is None:
        abort(400)
    scopes = split_scope(client.get_allowed_scope(params.get("scope")))
    form = ConsentForm()
    if form.validate_on_submit():
        if request.form.get("decision") != "allow":
            flows.finish_flow(flow_id)
            redirect_uri = params.get("redirect_uri") or client.get_default_redirect_uri()
            return redirect_error(
                redirect_uri,
                "access_denied",
                "The end-user denied the request.",
                params.get("state"),
            )
        _remember_consent(current_user.id, client.client_id, scopes)
        flows.update_flow(flow_id, consented=True)
        return redirect(flow_url(flow_id, flow["params"]), code=303)
    return render_template(
        "oidc/consent.html",
        form=form,
        client=client,
        scopes=scopes,
        flow_id=flow_id,
        scope_labels=scope_labels(),
    )


def scope_labels() -> dict[str, str]:
    return {
        "openid": _("Know who you are (your account identifier)"),
        "profile": _("Your name and username"),
        "email": _("Your email address"),
        "phone": _("Your phone number"),
        "address": _("Your address"),
        "offline_access": _("Keep access while you are away"),
    }


def _remember_consent(user_id: int, client_id: str, scopes: list[str]) -> None:
    db = db_session()
    row = db.scalar(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )
    if row is None:
        db.add(
            Consent(user_id=user_id, client_id=client_id, scope=" ".join(scopes), granted_at=now())
        )
    else:
        merged = split_scope(row.scope) + [s for s in scopes if s not in split_scope(row.scope)]
        row.scope, row.granted_at = " ".join(merged), now()
    db.commit()
