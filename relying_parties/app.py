"""One small Flask relying party, configured per demo service (eMT, e-Invoice, ...).

It logs in by discovery + authorization code + PKCE (S256) + nonce with Authlib's
client, shows the person's claims and the token's acr/amr/auth_time, calls userinfo,
and logs out through the IdP's end_session_endpoint. Each RP has its own look
(``brands``) and words in Thai and English (``i18n``); its pages allow only its own
origin (CSP ``default-src 'self'``): one stylesheet, no script.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import (
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from relying_parties.backchannel import InvalidLogoutToken, Revocations, validate_logout_token
from relying_parties.brands import Brand, brand_for, favicon, stylesheet
from relying_parties.i18n import (
    LOCALES,
    acr_words,
    amr_words,
    choose_locale,
    human_datetime,
    machine_datetime,
    membership_words,
    scope_words,
    translate,
    verified_claim_words,
)

# What a relying party that needs a verified person asks for (the demo search RP):
# the membership scope and, through the claims parameter (OpenID Connect for Identity
# Assurance 1.0, section 6), the verified names and birth date with how they were
# verified, in userinfo and in the ID token.
VERIFIED_CLAIMS_REQUEST = {
    "verification": {"trust_framework": None, "time": None, "evidence": None},
    "claims": {
        "given_name": None,
        "family_name": None,
        "given_name#th": None,
        "family_name#th": None,
        "birthdate": None,
    },
}
VERIFIED_AUTH_PARAMS = {
    "claims": json.dumps(
        {
            "id_token": {"verified_claims": VERIFIED_CLAIMS_REQUEST},
            "userinfo": {"verified_claims": VERIFIED_CLAIMS_REQUEST},
        }
    )
}


def iso_epoch(value: object) -> float | None:
    """An ISO 8601 time of a verified_claims element as epoch seconds (None if not)."""
    from datetime import datetime

    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class RPConfig:
    slug: str  # cookie and registry name, e.g. "emt"; picks the look in brands.BRANDS
    title: str  # the name when the slug has no brand
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
    # The IdP's name on the "Sign in with ..." button (the demo passes IDP_BRAND_NAME_*).
    idp_name_th: str = "บริการยืนยันตัวตน"
    idp_name_en: str = "the sign-in service"
    # This RP's own rights: scope -> (Thai, English) description.
    scope_labels: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def brand(self) -> Brand:
        return brand_for(self.slug, self.title)

    def idp_name(self, locale: str) -> str:
        return self.idp_name_th if locale == "th" else self.idp_name_en


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def pretty_json(value: object) -> str:
    """Claims for people to read: Thai stays Thai (no \\u0e.. escapes). The template
    autoescapes the result, which is text in a <pre>, not a script."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


ERRORS = {
    "access_denied": "Sign-in was cancelled or not allowed.",
    "logout_state_mismatch": (
        "The sign-out response could not be checked; you are signed out of this application."
    ),
}


def create_rp(cfg: RPConfig) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME=f"rp_{cfg.slug}",  # cookies ignore ports: keep names apart
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    brand = cfg.brand
    # form-action covers the redirects after /step-up and /logout, which go to the IdP.
    csp = (
        "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self' {_origin(cfg.issuer)}"
    )
    oauth = OAuth(app)
    idp = oauth.register(
        cfg.slug,
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        server_metadata_url=f"{cfg.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": cfg.scope, "code_challenge_method": "S256"},
    )
    # Sessions the IdP ended through the back channel (relying_parties/backchannel.py).
    revoked = Revocations()
    app.extensions["rp_revocations"] = revoked
    signed_in_keys = ("user", "id_token", "token_info", "userinfo", "sid", "signed_in_at")

    @app.before_request
    def drop_ended_session():
        """A session the IdP ended (back-channel logout) is signed out here on its next
        request: the cookie cannot be reached from the back channel, so it is checked."""
        user = session.get("user")
        if user and revoked.is_ended(
            session.get("sid"), user.get("sub"), session.get("signed_in_at", 0)
        ):
            for key in signed_in_keys:
                session.pop(key, None)

    @app.before_request
    def pick_locale():
        chosen = request.args.get("lang")
        if chosen in LOCALES:
            session["lang"] = chosen
        best = request.accept_languages.best_match(LOCALES)
        g.locale = choose_locale(session.get("lang"), best)

    @app.context_processor
    def page_helpers():
        locale = g.locale

        def t(text: str, **values: object) -> str:
            return translate(locale, text, **values)

        return {
            "cfg": cfg,
            "brand": brand,
            "locale": locale,
            "t": t,
            "app_name": brand.name(locale),
            "idp_name": cfg.idp_name(locale),
            "human_datetime": lambda epoch: human_datetime(epoch, locale),
            "machine_datetime": machine_datetime,
            "acr_words": lambda acr: acr_words(acr, locale),
            "amr_words": lambda amr: amr_words(amr, locale),
            "scope_words": lambda scope: scope_words(scope, locale, cfg.scope_labels),
            "pretty_json": pretty_json,
            "membership_words": lambda code: membership_words(code, locale),
            "verified_claim_words": lambda name: verified_claim_words(name, locale),
            "iso_epoch": iso_epoch,
        }

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # the callback URL holds a code
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages show personal data
            response.vary.add("Cookie")
        return response

    @app.route("/brand.css")
    def brand_css():
        return Response(stylesheet(brand), mimetype="text/css")

    @app.route("/favicon.svg")
    def favicon_svg():
        return Response(favicon(brand), mimetype="image/svg+xml")

    @app.route("/")
    def home():
        error = request.args.get("error")
        token = session.get("token_info")
        return render_template(
            "rp/home.html",
            user=session.get("user"),
            token=token,
            scopes=(token or {}).get("scope", "").split(),
            userinfo=session.get("userinfo"),
            error=error,
            error_text=ERRORS.get(error or "", "Sign-in did not complete."),
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
            session["done"] = {"action": action, "acr": claims.get("acr")}
        session["user"] = dict(claims)
        session["sid"] = claims.get("sid")  # what a logout token names (back-channel)
        session["signed_in_at"] = int(time.time())
        session["id_token"] = token["id_token"]
        session["token_info"] = {
            "acr": claims.get("acr"),
            "amr": claims.get("amr"),
            "auth_time": claims.get("auth_time"),
            "expires_at": token.get("expires_at"),
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

    @app.route("/backchannel-logout", methods=["POST"])
    def backchannel_logout():
        """Back-Channel Logout 1.0 sections 2.5-2.8 (no cookie, no CSRF: the token is
        the credential)."""
        try:
            claims = validate_logout_token(
                request.form.get("logout_token", ""),
                issuer=cfg.issuer,
                client_id=cfg.client_id,
                jwks=lambda force: idp.fetch_jwk_set(force=force),
            )
            if revoked.seen(claims["jti"], int(time.time())):
                raise InvalidLogoutToken("replayed")
        except InvalidLogoutToken as exc:
            app.logger.info("back-channel logout refused: %s", exc)
            resp = jsonify(error="invalid_request", error_description=str(exc))
            resp.status_code = 400
        else:
            revoked.end(claims)
            resp = Response("", 200)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.route("/logged-out")
    def logged_out():
        try:
            idp.validate_logout_response()
        except OAuthError:
            return redirect(url_for("home", error="logout_state_mismatch"))
        # Post/redirect/get: the state is spent, so the page itself lives at a URL that
        # can be reloaded (and switched to the other language).
        return redirect(url_for("signed_out"))

    @app.route("/signed-out")
    def signed_out():
        return render_template("rp/logged_out.html")

    return app
