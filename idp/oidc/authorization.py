"""/authorize (OIDC Core 3.1.2, RFC 6749 4.1, RFC 9207): parse, ask the pipeline, redirect.

Authlib validates client, redirect URI, response type, scope, PKCE and nonce; this view
adds what Authlib leaves to us (SECURITY.md 6): prompt handling, server-side max_age,
id_token_hint, the stored auth_time, and iss on error redirects; the sign-in steps
themselves are ``oidc.pipeline``.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import redirect, render_template, request, session
from flask_login import current_user
from joserfc import jwt
from joserfc.errors import JoseError

from idp.account import auth_state
from idp.account.forms import PostForm
from idp.account.services import login_completed
from idp.db import now
from idp.db import session as db_session
from idp.extensions import keys
from idp.models import Organization
from idp.oidc import flows, pipeline, signin
from idp.oidc.blueprint import bp, server
from idp.oidc.claims_request import (
    ClaimsParameterError,
    essential_acr,
    scope_with_verified_claims,
    verified_claims_request,
)
from idp.oidc.errors import (
    error_page,
    error_redirect_url,
    malformed_request_page,
    redirect_error,
)
from idp.oidc.interaction import url_for_next
from idp.oidc.keys import ALGORITHMS
from idp.oidc.pipeline import Next, SignInRequest
from idp.oidc.scopes import VERIFIED_CLAIMS_SCOPE, split_scope
from idp.orgs.entitlements import OrgChoice
from idp.orgs.login import admins_of

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


def request_params() -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in request.values.items(multi=True) if k != flows.FLOW_PARAM)


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
        verified_claims_request(data.get("claims"))
    except ClaimsParameterError as exc:
        return "invalid_request", str(exc)
    return None


def _sign_in_request(data: Any, scope: str | None, hint_sub: str | None) -> SignInRequest:
    return SignInRequest(
        scopes=tuple(split_scope(scope)),
        prompts=frozenset((data.get("prompt") or "").split()),
        max_age=int(data["max_age"]) if data.get("max_age") else None,
        hint_sub=hint_sub,
        acr_values=tuple((data.get("acr_values") or "").split()),
        essential_acr=essential_acr(data.get("claims")),
    )


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """Parse and validate the request, ask the sign-in pipeline, redirect."""
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
    # verified_claims asked through the claims parameter (OIDC IDA 1.0 section 6).
    scope, vc_request = scope_with_verified_claims(
        grant.request.scope, data.get("claims"), client.row.scopes, VERIFIED_CLAIMS_SCOPE
    )
    params = request_params()
    flow = flows.load(data.get(flows.FLOW_PARAM))
    if flow is not None and flow.params != params:
        flow = None  # a flow serves the exact request it was made for
    db = db_session()
    ctx = signin.gather(
        db,
        client.row,
        user,
        _sign_in_request(data, scope, hint_sub),
        flow,
        auth_state.factors() if user is not None else {},
        now(),
    )
    result = pipeline.run(ctx)
    if result.issue is None:
        outcome = result.outcome
        if outcome.error:
            return redirect_error(redirect_uri, outcome.error, outcome.description, state)
        if outcome.refused is not None:
            return _no_access(client, outcome.refused, redirect_uri, state)
        flow = flow or flows.start(params, data.get("ui_locales"), client.client_id)
        if outcome.step_up is not None:
            flow = flows.save(flow.evolve(step_up=outcome.step_up))
        if outcome.goto is Next.LOGIN:
            # prompt=login, max_age or a level that wants a fresh password: the person
            # signed in confirms it; an id_token_hint for someone else is a new sign-in.
            reauth = user is not None and "id_token_hint_mismatch" not in outcome.reasons
            flow = flows.save(flow.evolve(reauth=reauth))
        return redirect(url_for_next(outcome.goto, flow.id), code=303)

    issue = result.issue
    login_completed(db, user, read_this_request=True)
    grant.request.idp_auth = {
        "auth_time": issue.auth_time,
        "acr": issue.acr,
        "amr": list(issue.amr),
        "sid": session.sid,
        "scope": " ".join(issue.scope),
        "org_id": issue.org_id,
        "claims": vc_request or None,
    }
    flows.finish(flow.id if flow is not None else None)
    return server().create_authorization_response(grant=grant, grant_user=user)


def _no_access(client: Any, choice: OrgChoice, redirect_uri: str, state: str | None) -> Any:
    """The person may not use this organisation client (issue 4): say who can help,
    and offer the way back to the application (an ``access_denied`` answer to its
    verified redirect URI, RFC 6749 4.1.2.1) and signing out (issue 9)."""
    db = db_session()
    org = db.get(Organization, choice.org_id) if choice.org_id is not None else None
    admins = admins_of(db, org.id) if org is not None else []
    back = error_redirect_url(
        redirect_uri, "access_denied", "The end-user has no right at this client.", state
    )
    return render_template(
        "orgs/no_access.html",
        client=client,
        org=org,
        admins=admins,
        back_url=back,
        form=PostForm(),
    ), 403
