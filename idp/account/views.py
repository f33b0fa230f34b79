"""Login, logout and the person's own account page (consents)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import delete, select

from idp.account import panels
from idp.account.auth_state import start_login
from idp.account.device_sessions import sign_out
from idp.account.forms import LoginForm, PostForm
from idp.account.messages import (
    login_failed,
    login_paused,
    reauth_reason,
    withdraw_confirmation,
)
from idp.account.services import allowed_applications, authenticate, remember_locale
from idp.confirm import confirmation_page, confirmed
from idp.db import now
from idp.db import session as db_session
from idp.extensions import chosen_locale, limiter, login_manager, page_locale
from idp.models import Client, Consent, Grant, Organization, OrgChoice, User
from idp.oidc import flows
from idp.oidc.interaction import who_asks
from idp.oidc.revocation import end_grants
from idp.oidc.scope_labels import scope_labels
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
    switching = request.args.get("switch") == "1"
    # A signed-in person sent here again (prompt=login, max_age, a console's age
    # limit, a change on the account page) confirms their own password: the name is
    # shown fixed, with a way to sign in as someone else instead (as Keycloak does).
    reauth = current_user.is_authenticated and not switching and (flow is None or flow.reauth)
    form = LoginForm()
    if request.method == "GET" and reauth:
        form.username.data = current_user.username
    elif request.method == "GET" and flow is not None:
        form.username.data = (flow.param("login_hint") or "")[:254]
    error, paused = None, False
    settings = current_app.extensions["idp_settings"]
    if form.validate_on_submit():
        result = authenticate(db_session(), settings, form.username.data, form.password.data)
        if result.user is not None:
            start_login(result.user)
            if remember_locale(result.user, chosen_locale()):  # see remember_locale
                db_session().commit()
            if flow is not None:
                return redirect(flow.continue_url, code=303)
            return redirect(_next_target() or url_for("account.home"), code=303)
        # Never which field was wrong, nor whether the account exists: "paused" comes
        # from the typed name's own count, kept for unknown names too (ASVS 6.3.8).
        paused = result.paused
        minutes = max(1, -(-settings.lockout_seconds // 60))  # rounded up: never too soon
        error = login_paused(minutes) if paused else login_failed()
    asker = who_asks(db_session(), flow)
    next_page = request.args.get("next") if _next_target() else None
    return render_template(
        "account/login.html",
        form=form,
        error=error,
        paused=paused,
        flow_id=flow.id if flow else None,
        client_name=asker.name if asker.kind == "client" else None,
        next_page=next_page,
        reauth=reauth,
        reauth_reason=reauth_reason(asker.kind, asker.name) if reauth else None,
        switch_url=url_for(
            "account.login", flow=flow.id if flow else None, next=next_page, switch=1
        ),
        switching=switching,
    )


@bp.route("/account/recover")
def recover() -> Any:
    """The old address of password recovery (issue 9): now the forgot-password page
    (idp.account.recovery_views)."""
    return redirect(url_for("account.forgot"))


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
    allowed = allowed_applications(db, current_user.id, now())
    return render_template(
        "account/home.html",
        admin_orgs=administered_orgs(db, current_user.id),
        allowed=allowed,
        allowed_labels={
            app.client.client_id: scope_labels(db, app.client.client_id, app.scope, page_locale())
            for app in allowed
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
        **panels.gather(db, current_user),
    )


@bp.route("/account/consents/<client_id>/revoke", methods=["POST"])
@login_required
def revoke_consent(client_id: str) -> Any:
    """Withdraw consent: the client's grants and tokens for this person end too."""
    form = PostForm()
    db = db_session()
    client = db.scalar(select(Client).where(Client.client_id == client_id))
    if form.validate_on_submit() and client is not None:
        if not confirmed():
            page = withdraw_confirmation(client.name, asks_consent=not client.skip_consent)
            return confirmation_page(page, url_for("account.home"))
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
        # Through the front door: the clients signed in here get logout tokens.
        user = current_user._get_current_object() if current_user.is_authenticated else None
        sign_out(db_session(), user)
        return render_template("oidc/logged_out.html")
    return redirect(url_for("account.home"), code=303)
