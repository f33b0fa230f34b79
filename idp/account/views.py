"""Login, logout and the person's own account page (consents)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from sqlalchemy import delete, select

from idp.account.auth_state import start_login
from idp.account.forms import LoginForm, PostForm
from idp.account.services import authenticate, remember_locale
from idp.db import session as db_session
from idp.extensions import chosen_locale, limiter, login_manager, page_locale
from idp.models import Client, Consent, Grant, Organization, OrgChoice, User
from idp.oidc import flows
from idp.oidc.revocation import end_grants
from idp.oidc.scope_labels import scope_labels
from idp.oidc.scopes import split_scope
from idp.orgs.login import forget_org
from idp.orgs.services import administered_orgs
from idp.safe_redirect import local_path

bp = Blueprint("account", __name__)
# Short names older links use for `next`; any other `next` must be a path of ours.
NEXT_PAGES = {"security": "security.overview", "email": "account.change_email"}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db_session().get(User, int(user_id))
    return user if user is not None and user.is_active else None


login_manager.login_view = "account.login"


@bp.before_app_request
def _remember_switched_language() -> None:
    """The language switch (``?lang=``) used while signed in is the person's choice for
    their mails too (services.remember_locale). Only a request carrying ``lang`` loads
    the person for this."""
    lang = request.args.get("lang")
    if lang and current_user.is_authenticated and remember_locale(current_user, lang):
        db_session().commit()


def _login_limit() -> str:
    return current_app.extensions["idp_settings"].login_rate_limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    flow = flows.load(request.values.get("flow"))
    form = LoginForm()
    if request.method == "GET" and flow is not None:
        form.username.data = (flow.param("login_hint") or "")[:254]
    error = None
    if form.validate_on_submit():
        settings = current_app.extensions["idp_settings"]
        result = authenticate(db_session(), settings, form.username.data, form.password.data)
        if result.user is not None:
            start_login(result.user)
            if remember_locale(result.user, chosen_locale()):  # see remember_locale
                db_session().commit()
            if flow is not None:
                return redirect(flow.continue_url, code=303)
            return redirect(_next_target() or url_for("account.home"), code=303)
        # One message for every failure: never which field was wrong, nor whether the
        # account exists or is locked (ASVS 6.3.8); it says when to try again.
        error = _(
            "Sign-in failed: the username or password is wrong, or the account is "
            "temporarily locked. After %(n)d failed attempts the account is locked for "
            "%(m)d minutes; wait that long before you try again.",
            n=settings.lockout_threshold,
            m=max(1, settings.lockout_seconds // 60),
        )
    client_name = None
    if flow is not None and flow.client_id:
        client = db_session().scalar(select(Client).where(Client.client_id == flow.client_id))
        client_name = client.name if client else None
    return render_template(
        "account/login.html",
        form=form,
        error=error,
        flow_id=flow.id if flow else None,
        client_name=client_name,
        next_page=request.args.get("next") if _next_target() else None,
    )


def _next_target() -> str | None:
    """Where ``next`` sends the browser after sign-in: a page named in NEXT_PAGES, or a
    path on this site with its query (idp/safe_redirect.py: never another origin, I-08);
    None for anything else."""
    value = request.args.get("next", "")
    if value in NEXT_PAGES:
        return url_for(NEXT_PAGES[value])
    return local_path(value)


@bp.route("/")
def index() -> Any:
    return redirect(url_for("account.home"))


@bp.route("/account")
@login_required
def home() -> Any:
    db = db_session()
    rows = db.execute(
        select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.user_id == current_user.id)
        .order_by(Client.name)
    ).all()
    return render_template(
        "account/home.html",
        admin_orgs=administered_orgs(db, current_user.id),
        consents=rows,
        consent_labels={
            client.client_id: scope_labels(
                db, client.client_id, split_scope(consent.scope), page_locale()
            )
            for consent, client in rows
        },
        org_choices=db.execute(
            select(Client, Organization)
            .join(OrgChoice, OrgChoice.client_id == Client.client_id)
            .join(Organization, Organization.id == OrgChoice.org_id)
            .where(OrgChoice.user_id == current_user.id)
            .order_by(Client.name)
        ).all(),
        is_operator=current_user.is_operator,
        form=PostForm(),
        auth=session.get("auth") or {},
    )


@bp.route("/account/consents/<client_id>/revoke", methods=["POST"])
@login_required
def revoke_consent(client_id: str) -> Any:
    """Withdraw consent: the client's grants and tokens for this person end too."""
    form = PostForm()
    if form.validate_on_submit():
        db = db_session()
        db.execute(
            delete(Consent).where(
                Consent.user_id == current_user.id, Consent.client_id == client_id
            )
        )
        end_grants(db, Grant.user_id == current_user.id, Grant.client_id == client_id)
        db.commit()
    return redirect(url_for("account.home"), code=303)


@bp.route("/account/org-choices/<client_id>/forget", methods=["POST"])
@login_required
def forget_org_choice(client_id: str) -> Any:
    """The next login to this client asks again which organisation the person acts for."""
    if PostForm().validate_on_submit():
        forget_org(db_session(), current_user.id, client_id)
        db_session().commit()
    return redirect(url_for("account.home"), code=303)


@bp.route("/account/logout", methods=["POST"])
def logout() -> Any:
    form = PostForm()
    if form.validate_on_submit():
        logout_user()
        session.destroy()
        return render_template("oidc/logged_out.html")
    return redirect(url_for("account.home"), code=303)
