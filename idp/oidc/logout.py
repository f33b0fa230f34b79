"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

With a valid ``id_token_hint`` for the signed-in person (or no session at all) the
session ends at once and the browser returns to the registered
``post_logout_redirect_uri`` (exact match) with ``state``, if one was sent. A hint that
does not verify gets an error page; anything else (no hint, another person's, an
unregistered URI) asks the person to confirm, so a cross-site GET cannot sign anyone
out (SECURITY.md P-28). Either way the session ends through the one front door
(:func:`idp.account.device_sessions.sign_out`), so every client signed in through it
gets a back-channel logout token (issue 11).
"""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import redirect, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm

from idp.account.device_sessions import sign_out
from idp.db import session as db_session
from idp.oidc.blueprint import bp, server
from idp.oidc.clients import load_client
from idp.oidc.errors import error_page


class LogoutForm(FlaskForm):
    pass


def _end_browser_session() -> None:
    sign_out(
        db_session(), current_user._get_current_object() if current_user.is_authenticated else None
    )


@bp.route("/logout", methods=["GET", "POST"])
def end_session() -> Any:
    try:
        req = server().validate_endpoint_request("end_session")
    except OAuth2Error as err:
        return error_page(err.error, err.description)
    claims = req.id_token_claims
    signed_in_sub = current_user.sub if current_user.is_authenticated else None
    # An unregistered post_logout_redirect_uri makes the request an error (RP-Initiated
    # Logout 1.0 sections 3 and 4): never redirected, and not a silent logout (P-28).
    bad_uri = bool(request.values.get("post_logout_redirect_uri")) and req.redirect_uri is None
    if claims is not None and signed_in_sub in (None, claims.get("sub")) and not bad_uri:
        _end_browser_session()
        response = server().create_endpoint_response("end_session", req)
        return response or render_template("oidc/logged_out.html")
    data = request.values
    client_id = data.get("client_id") or (req.client.get_client_id() if req.client else "")
    return render_template(
        "oidc/logout_confirm.html",
        form=LogoutForm(),
        client=req.client,
        client_id=client_id,
        post_logout_redirect_uri=data.get("post_logout_redirect_uri", ""),
        state=data.get("state", ""),
    )


@bp.route("/logout/confirm", methods=["POST"])
def confirm_logout() -> Any:
    form = LogoutForm()
    if not form.validate_on_submit():
        return error_page("invalid_request", None)
    _end_browser_session()
    client = load_client(db_session(), request.form.get("client_id"))
    uri = request.form.get("post_logout_redirect_uri", "")
    if client is not None and uri and uri in client.row.post_logout_redirect_uris:
        state = request.form.get("state")
        return redirect(add_params_to_uri(uri, {"state": state}) if state else uri, code=303)
    return render_template("oidc/logged_out.html")
