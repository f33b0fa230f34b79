"""The person's password and profile pages (routes on the account blueprint):

- ``/account/password``: change the password (SECURITY.md A-08): current + new + confirm.
- ``/account/password/new``: choose a new password because an operator made the
  account or asked for it (MISSION B2; the pipeline's ``password_change`` step sends a
  sign-in flow here with ``?flow=``, and :func:`_password_change_first` sends every
  other signed-in page here while the flag is set).
- ``/account/profile``: names and mobile number (``account.profile``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import PasswordField, StringField
from wtforms.validators import Length

from idp.account import panels
from idp.account.auth_state import factors, recently_authenticated
from idp.account.password_change import (
    PasswordChangeRefused,
    check_current_password,
    check_new_password,
    set_password,
)
from idp.account.password_messages import (
    account_page_messages,
    password_messages,
    profile_messages,
)
from idp.account.profile import ProfileInput, ProfileRefused, names_locked, update_profile
from idp.account.views import bp
from idp.db import now
from idp.db import session as db_session
from idp.mfa.policy import PASSWORD
from idp.mfa.services import notify
from idp.models import User
from idp.oidc import flows
from idp.oidc.interaction import url_for_next, who_asks
from idp.oidc.pipeline import Next

# While ``must_change_password`` is set, a signed-in person reaches only these pages,
# the protocol endpoints (blueprint "oidc": the pipeline step answers for itself), the
# development outbox, and what belongs to no blueprint (static files, the logo).
OPEN_WHILE_CHANGE_DUE = {"account.new_password", "account.login", "account.logout"}
OPEN_BLUEPRINTS = {"oidc", "dev", "bootstrap"}


@bp.before_app_request
def _password_change_first() -> Any:
    """A person whose password must be changed goes to the "choose a new password" page
    from any signed-in page (a sign-in at /login without a flow lands on /account and
    comes here). Sign-in flows are sent by the pipeline itself (``prompt=none`` gets
    ``interaction_required`` there), so /authorize and the other protocol endpoints
    are left alone."""
    endpoint = request.endpoint or ""
    if "." not in endpoint or endpoint in OPEN_WHILE_CHANGE_DUE:
        return None
    if endpoint.split(".")[0] in OPEN_BLUEPRINTS or not current_user.is_authenticated:
        return None
    if not current_user.must_change_password:
        return None
    return redirect(url_for("account.new_password", flow=request.args.get("flow")), code=303)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(validators=[Length(max=1024)])
    new_password = PasswordField(validators=[Length(max=1024)])
    confirm_password = PasswordField(validators=[Length(max=1024)])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(validators=[Length(max=1024)])
    confirm_password = PasswordField(validators=[Length(max=1024)])


class ProfileForm(FlaskForm):
    given_name = StringField()
    family_name = StringField()
    given_name_th = StringField()
    family_name_th = StringField()
    phone_number = StringField()


def _settings() -> Any:
    return current_app.extensions["idp_settings"]


def _errors(exc: PasswordChangeRefused) -> list[tuple[str | None, str]]:
    words = password_messages()
    return [(exc.field, words.get(exc.code, words["password_missing"]))]


def _renew_session(t: int) -> None:
    """The new password is this session's password factor from ``t`` (the same second
    as ``password_changed_at``, so grants made through this session keep refreshing:
    ``oidc.refresh``), and the session gets a new id (S-02). Its ``sid`` stays: the
    same person goes on, and ending this session later must still reach the clients
    signed in through it (Back-Channel Logout)."""
    proven = factors()
    proven[PASSWORD] = t
    session.rotate(keep_sid=True)
    session["auth"] = {"factors": proven, "time": max(proven.values())}


def _finish(db: Session, user: User, new: str, forced: bool) -> None:
    """Set the password, commit, renew this session, tell the person."""
    t = now()
    set_password(db, user, new, keep_sid=session.sid, t=t, forced=forced)
    db.commit()
    _renew_session(t)
    notify(_settings(), user, "password_changed", when=t)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """Current password (counted toward the lockout), new password twice."""
    form = ChangePasswordForm()
    errors: list[tuple[str | None, str]] = []
    if form.validate_on_submit():
        db = db_session()
        user = current_user._get_current_object()
        try:
            if not form.current_password.data:
                raise PasswordChangeRefused("current_missing", "current_password")
            if not form.new_password.data:
                raise PasswordChangeRefused("password_missing", "new_password")
            check_current_password(db, _settings(), user, form.current_password.data, now())
            check_new_password(user, form.new_password.data, form.confirm_password.data or "")
            _finish(db, user, form.new_password.data, forced=False)
            return redirect(url_for("account.home", m="password_changed"), code=303)
        except PasswordChangeRefused as exc:
            db.rollback()
            errors = _errors(exc)
    elif request.method == "POST":
        errors = [(None, password_messages()["password_missing"])]
    return render_template("account/password.html", form=form, errors=errors), (
        400 if errors else 200
    )


@bp.route("/account/password/new", methods=["GET", "POST"])
@login_required
def new_password() -> Any:
    """Choose a new password (``must_change_password``), then the sign-in flow goes on
    (or /account). Needs a password entered within 10 minutes: an older session
    confirms it first (the login page, as for other account changes)."""
    flow = flows.load(request.values.get("flow"))
    done_url = flow.continue_url if flow is not None else url_for("account.home")
    if not current_user.must_change_password:
        return redirect(done_url, code=303)
    if not recently_authenticated():
        if flow is not None:
            flows.save(flow.evolve(reauth=True))
            return redirect(url_for_next(Next.LOGIN, flow.id), code=303)
        return redirect(url_for("account.login", next=url_for("account.new_password")), code=303)
    form = NewPasswordForm()
    errors: list[tuple[str | None, str]] = []
    if form.validate_on_submit():
        db = db_session()
        user = current_user._get_current_object()
        try:
            if not form.new_password.data:
                raise PasswordChangeRefused("password_missing", "new_password")
            check_new_password(user, form.new_password.data, form.confirm_password.data or "")
            _finish(db, user, form.new_password.data, forced=True)
            return redirect(done_url, code=303)
        except PasswordChangeRefused as exc:
            db.rollback()
            errors = _errors(exc)
    elif request.method == "POST":
        errors = [(None, password_messages()["password_missing"])]
    asker = who_asks(db_session(), flow) if flow is not None else None
    return render_template(
        "account/password_new.html",
        form=form,
        errors=errors,
        flow_id=flow.id if flow is not None else None,
        client_name=asker.name if asker is not None and asker.kind == "client" else None,
    ), (400 if errors else 200)


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    db = db_session()
    user = current_user._get_current_object()
    locked = names_locked(db, user)
    form = ProfileForm(obj=None if request.method == "POST" else user)
    errors: list[tuple[str | None, str]] = []
    if form.validate_on_submit():
        given = ProfileInput(
            given_name=form.given_name.data or "",
            family_name=form.family_name.data or "",
            given_name_th=form.given_name_th.data or "",
            family_name_th=form.family_name_th.data or "",
            phone_number=form.phone_number.data or "",
        )
        try:
            changed = update_profile(db, user, given, now())
        except ProfileRefused as exc:
            db.rollback()
            words = profile_messages()
            errors = [(field, words[code]) for field, code in exc.errors]
        else:
            db.commit()
            message = "profile_saved" if changed else "profile_unchanged"
            return redirect(url_for("account.home", m=message), code=303)
    elif request.method == "POST":
        errors = [(None, profile_messages()["required"])]
    if locked:  # shown as they are on file, whatever was posted
        for field in ("given_name", "family_name", "given_name_th", "family_name_th"):
            getattr(form, field).data = getattr(user, field)
    return render_template("account/profile.html", form=form, errors=errors, names_locked=locked), (
        400 if errors else 200
    )


@panels.panel
def _profile_panel(db: Session, user: User) -> dict[str, Any]:
    """/account's "Your details": the message after these pages."""
    return {"profile_message": account_page_messages().get(request.args.get("m", ""))}
