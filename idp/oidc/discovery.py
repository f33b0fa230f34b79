"""Discovery (OIDC Discovery 1.0, RFC 8414) and JWKS, served as pre-built bytes."""

from __future__ import annotations

import hashlib
import json

from flask import Response, current_app, request

from idp.db import session as db_session
from idp.extensions import keys
from idp.oidc.acr import ACR_LADDER
from idp.oidc.assurance import CLAIMS_IN_VERIFIED_CLAIMS, EVIDENCE_TYPES, TRUST_FRAMEWORKS
from idp.oidc.blueprint import bp
from idp.oidc.keys import ALGORITHMS
from idp.oidc.scopes import ASSURANCE_SCOPES, CLAIMS_SUPPORTED, OIDC_SCOPES


def build_metadata(issuer: str, identity_app_framework: str = "th_identity_app") -> dict:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "end_session_endpoint": f"{issuer}/logout",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "scopes_supported": list(OIDC_SCOPES) + list(ASSURANCE_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": list(ACR_LADDER),
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["th", "en"],
        "claims_parameter_supported": True,
        # OpenID Connect for Identity Assurance 1.0, section 8.
        "verified_claims_supported": True,
        "trust_frameworks_supported": sorted(set(TRUST_FRAMEWORKS) | {identity_app_framework}),
        "evidence_supported": list(EVIDENCE_TYPES),
        "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        # OpenID Connect Back-Channel Logout 1.0 section 2.1 (issue 11): logout tokens
        # carry `sid`, and ID tokens do too.
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def _cached_json(body: bytes, etag: str) -> Response:
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
    else:
        resp = Response(body, 200, {"Content-Type": "application/json"})
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.route("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    built = current_app.extensions.get("idp_discovery_bytes")
    if built is None:
        settings = current_app.extensions["idp_settings"]
        metadata = build_metadata(settings.issuer, settings.identity_app_trust_framework)
        body = json.dumps(metadata, separators=(",", ":")).encode()
        built = current_app.extensions["idp_discovery_bytes"] = (body, etag_of(body))
    return _cached_json(*built)


@bp.route("/.well-known/oauth-authorization-server")
def oauth_metadata() -> Response:
    return openid_configuration()


@bp.route("/jwks.json")
def jwks() -> Response:
    ring = keys().get(db_session())
    return _cached_json(ring.jwks_json, ring.jwks_etag)
