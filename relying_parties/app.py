"""One small Flask relying party, configured per demo service (eMT, e-Invoice, ...).

It logs in by discovery + authorization code + PKCE (S256) + nonce with Authlib's
client, shows the person's claims and the token's acr/amr/auth_time, calls userinfo,
and logs out through the IdP's end_session_endpoint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, redirect, render_template, request, session, url_for


@dataclass(frozen=True)
class RPConfig:
    slug: str  # cookie and registry name, e.g. "emt"
    title: str  # shown on the page
    issuer: str  # the IdP
    client_id: str
    client_secret: str
    base_url: str  # where this RP is served, e.g. http://localhost:5001
    scope: str = "openid profile email offline_access"
    auth_params: dict = field(default_factory=dict)
    # A high-risk action that asks for a fresh second factor (issue 3 demo), e.g.
    # "Submit an invoice" with acr_values=urn:idp:acr:mfa and max_age=0.
    step_up_label: str | None = None
    step_up_acr: str = "urn:idp:acr:mfa"


def create_rp(cfg: RPConfig) -> Flask:
    app = Flask(__name__, template_folder="templates")
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME=f"rp_{cfg.slug}",  # cookies ignore ports: keep names apart
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    oauth = OAuth(app)
    idp = oauth.register(
        cfg.slug,
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        server_metadata_url=f"{cfg.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": cfg.scope, "code_challenge_method": "S256"},
    )

    @app.route("/")
    def home():
        return render_template(
            "rp/home.html",
            cfg=cfg,
            user=session.get("user"),
            token=session.get("token_info"),
            userinfo=session.get("userinfo"),
            error=request.args.get("error"),
            done=session.pop("done", None),
        )

    @app.route("/login")
    def login():
        extra = {"prompt": "select_account"} if request.args.get("switch") else {}
        return idp.authorize_redirect(cfg.base_url + "/callback", **cfg.auth_params, **extra)

    @app.route("/step-up", methods=["POST"])
    def step_up():
        session["pending_action"] = cfg.step_up_label
        return idp.authorize_redirect(
            cfg.base_url + "/callback", acr_values=cfg.step_up_acr, max_age=0, **cfg.auth_params
        )

    @app.route("/callback")
    def callback():
        try:
            token = idp.authorize_access_token()
        except OAuthError as exc:
            return redirect(url_for("home", error=exc.error))
        claims = token["userinfo"]
        action = session.pop("pending_action", None)
        if action:
            session["done"] = f"{action}: done at acr {claims.get('acr')}"
        session["user"] = dict(claims)
        session["id_token"] = token["id_token"]
        session["token_info"] = {
            "acr": claims.get("acr"),
            "amr": claims.get("amr"),
            "auth_time": claims.get("auth_time"),
            "has_refresh_token": "refresh_token" in token,
            "scope": token.get("scope", ""),
        }
        session["userinfo"] = dict(idp.userinfo(token=token))
        return redirect(url_for("home"))

    @app.route("/logout", methods=["POST"])
    def logout():
        id_token = session.pop("id_token", None)
        session.pop("user", None)
        session.pop("token_info", None)
        session.pop("userinfo", None)
        return idp.logout_redirect(
            post_logout_redirect_uri=cfg.base_url + "/logged-out",
            id_token_hint=id_token,
            state=secrets.token_urlsafe(16),
        )

    @app.route("/logged-out")
    def logged_out():
        try:
            idp.validate_logout_response()
        except OAuthError:
            return redirect(url_for("home", error="logout_state_mismatch"))
        return render_template("rp/logged_out.html", cfg=cfg)

    return app
