"""Choosing the organisation one acts for at a client (part of /authorize)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session
from flask_login import current_user

from idp.account.forms import PostForm
from idp.db import session as db_session
from idp.oidc import flows
from idp.oidc.authorization import continue_url
from idp.oidc.errors import error_page
from idp.orgs.login import _candidates

bp = Blueprint("orgs", __name__)


@bp.route("/orgs/select", methods=["GET", "POST"])
def select() -> Any:
    flow_id = request.values.get("flow")
    flow = flows.get_flow(flow_id)
    if flow is None or not current_user.is_authenticated:
        return error_page("flow_expired", None, 400)
    candidates = _candidates(db_session(), current_user.id, flow["client_id"])
    form = PostForm()
    if form.validate_on_submit():
        chosen = request.form.get("org_id", type=int)
        if chosen in {o.id for o in candidates}:
            flows.update_flow(flow_id, org_id=chosen)
            choices = dict(session.get("org_choice") or {})
            choices[flow["client_id"]] = chosen
            session["org_choice"] = choices
            return redirect(continue_url(flow_id, flow), code=303)
    return render_template("orgs/select.html", form=form, flow_id=flow_id, orgs=candidates)
