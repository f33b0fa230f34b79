"""Choosing the organisation one acts for at a client (part of /authorize)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from idp.account.forms import PostForm
from idp.db import session as db_session
from idp.extensions import page_locale
from idp.models import Organization
from idp.oidc import flows
from idp.oidc.errors import error_page
from idp.orgs import invitations
from idp.orgs.forms import InvitationForm
from idp.orgs.login import candidate_orgs, remember_org
from idp.orgs.messages import invitation_message

bp = Blueprint("orgs", __name__)


@bp.route("/orgs/select", methods=["GET", "POST"])
def select() -> Any:
    flow = flows.load(request.values.get("flow"))
    if flow is None or not flow.client_id or not current_user.is_authenticated:
        return error_page("flow_expired", None, 400)
    candidates = candidate_orgs(db_session(), current_user.id, flow.client_id)
    form = PostForm()
    if form.validate_on_submit():
        chosen = request.form.get("org_id", type=int)
        if chosen in {o.id for o in candidates}:
            flow = flows.save(flow.evolve(org_id=chosen))
            remember_org(db_session(), current_user.id, flow.client_id, chosen)
            db_session().commit()
            return redirect(flow.continue_url, code=303)
    return render_template("orgs/select.html", form=form, flow_id=flow.id, orgs=candidates)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    """Join an organisation from an emailed invitation: choose a username and password,
    identify yourself by national ID or passport (A6)."""
    db = db_session()
    inv = invitations.find(db, token)
    if inv is None:
        return error_page("invitation_expired", None, 404)
    account = invitations.account_for(db, inv)
    if account is not None:
        return _join_with_account(token, inv, account)
    form = InvitationForm()
    errors: list[tuple[str | None, str]] = []
    if form.is_submitted() and not form.validate():
        errors = [
            # WTForms words a bad radio value itself, in English: ours instead.
            (FORM_FIELD_IDS.get(name, name), str(messages[0]))
            if name != "id_kind"
            else ("id_kind-0", invitation_message("identity_missing"))
            for name, messages in form.errors.items()
            if name != "csrf_token"  # the CSRF handler answers that one before this
        ]
    elif form.is_submitted():
        try:
            identity = invitations.check_identity(
                form.id_kind.data,
                form.national_id.data or "",
                form.passport_number.data or "",
                form.nationality.data or "",
            )
            invitations.accept(
                db,
                token,
                username=form.username.data,
                name=form.name.data,
                password=form.password.data,
                identity=identity,
                settings=current_app.extensions["idp_settings"],
                locale=page_locale(),  # the language the person created the account in
            )
        except invitations.InvitationError as exc:
            errors = [(INVITATION_ERROR_FIELDS.get(exc.code), invitation_message(exc.code))]
        else:
            return redirect(url_for("account.login"), code=303)
    org = db.get(Organization, inv.org_id)
    return render_template(
        "orgs/invitation.html", form=form, org=org, email=inv.email, errors=errors
    ), (400 if errors else 200)


# A radio group's summary link goes to its first button (the inputs are id_kind-0, -1).
FORM_FIELD_IDS = {"id_kind": "id_kind-0"}

# Which field of the invitation form an InvitationError is about (the error summary
# links there); codes about the invitation itself have no field.
INVITATION_ERROR_FIELDS = {
    "national_id_invalid": "national_id",
    "passport_invalid": "passport_number",
    "identity_missing": "id_kind-0",
    "username_taken": "username",
    "username_invalid": "username",
    "password_too_short": "password",
    "password_too_long": "password",
    "password_contains_identity": "password",
}


def _join_with_account(token: str, inv: Any, account: Any) -> Any:
    """The address has an account: its owner signs in (``next`` brings them back here)
    and accepts; anyone else signed in is told the link is for another account."""
    db = db_session()
    org = db.get(Organization, inv.org_id)
    if not current_user.is_authenticated:
        state = "sign_in"
    elif current_user.id != account.id:
        state = "other_account"
    else:
        state = "join"
    form, error, status = PostForm(), None, 200
    if state == "other_account":
        error, status = invitation_message("other_account"), 403
    elif state == "join" and form.validate_on_submit():
        try:
            invitations.accept_existing(db, token, current_user)
        except invitations.InvitationError as exc:
            error, status = invitation_message(exc.code), 400
        else:
            return redirect(url_for("account.home"), code=303)
    return render_template(
        "orgs/invitation_account.html",
        form=form,
        org=org,
        email=inv.email,
        state=state,
        error=error,
        login_url=url_for("account.login", next=request.path),
    ), status
