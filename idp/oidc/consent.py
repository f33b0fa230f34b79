"""The consent page of a sign-in flow (OIDC Core 3.1.2.4): the person allows or denies
what the client asks for; an allowed consent is remembered for the next sign-ins."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm

from idp.db import session as db_session
from idp.extensions import page_locale
from idp.models import Organization
from idp.oidc import flows
from idp.oidc.blueprint import bp
from idp.oidc.claims_request import scope_with_verified_claims
from idp.oidc.clients import load_client
from idp.oidc.errors import error_page, redirect_error
from idp.oidc.interaction import url_for_next
from idp.oidc.pipeline import Next
from idp.oidc.scope_labels import scope_labels
from idp.oidc.scopes import split_scope
from idp.oidc.signin import flow_org_choice, remember_consent


class ConsentForm(FlaskForm):
    pass


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> Any:
    flow = flows.load(request.values.get("flow"))
    if flow is None or not flow.client_id:
        return error_page("flow_expired", None, 400)
    if not current_user.is_authenticated:
        return redirect(url_for_next(Next.LOGIN, flow.id))
    db = db_session()
    client = load_client(db, flow.client_id)
    if client is None:
        abort(400)
    # Only what would be issued: for an organisation client, the rights the person
    # holds in the organisation they act for (issue 9), and that organisation named.
    scope, _ = scope_with_verified_claims(
        flow.param("scope"), flow.param("claims"), client.row.scopes
    )
    requested = split_scope(client.get_allowed_scope(scope))
    choice = flow_org_choice(db, client.client_id, current_user.id, flow, requested)
    if choice.kind not in ("ok", "none"):
        return redirect(flow.continue_url, code=303)  # /authorize decides again
    scopes = list(choice.scope)
    org = db.get(Organization, choice.org_id) if choice.org_id is not None else None
    form = ConsentForm()
    if form.validate_on_submit():
        if request.form.get("decision") != "allow":
            flows.finish(flow.id)
            redirect_uri = flow.param("redirect_uri") or client.get_default_redirect_uri()
            return redirect_error(
                redirect_uri,
                "access_denied",
                "The end-user denied the request.",
                flow.param("state"),
            )
        remember_consent(db_session(), current_user.id, client.client_id, scopes)
        db_session().commit()
        # Issue for the organisation the person consented for, whatever happens to
        # the remembered choice meanwhile.
        flow = flows.save(flow.evolve(consented=True, org_id=choice.org_id or flow.org_id))
        return redirect(flow.continue_url, code=303)
    return render_template(
        "oidc/consent.html",
        form=form,
        client=client,
        org=org,
        flow_id=flow.id,
        labels=scope_labels(db, client.client_id, scopes, page_locale()),
    )
