"""Token (RFC 6749 3.2), UserInfo (OIDC Core 5.3), introspection (RFC 7662) and
revocation (RFC 7009) endpoints."""

from __future__ import annotations

import json

from flask import Response, g, request

from idp.db import session as db_session
from idp.oidc.blueprint import bp, server
from idp.oidc.lanes import DATABASE_FAILURE
from idp.oidc.reads import read_without_transaction
from idp.oidc.server import user_for_access_token, userinfo_claims
from idp.oidc.syntax import basic_credentials

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_error(error: str, description: str, status: int = 400, **headers: str) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status, {"Content-Type": "application/json", **NO_STORE, **headers})


def _form_problem() -> Response | None:
    """RFC 6749 3.2 / 2.3: form-encoded POST, no repeated parameters (I-02, I-03)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return json_error("invalid_request", "Use application/x-www-form-urlencoded.")
    if request.args:
        return json_error("invalid_request", "Parameters must be sent in the request body.")
    for key in request.form:
        if len(request.form.getlist(key)) > 1:
            return json_error("invalid_request", f"Multiple '{key}' in request.")
    if not _basic_header_is_decodable(request.headers.get("Authorization", "")):
        return json_error(
            "invalid_client",
            "Malformed Basic credentials.",
            401,
            **{"WWW-Authenticate": 'Basic realm="idp"'},
        )
    return None


def _basic_header_is_decodable(header: str) -> bool:
    """Authlib decodes Basic credentials leniently and fails loudly on garbage; a NUL in
    them (percent-encoded too) would reach the client query (PostgreSQL refuses NUL in
    text)."""
    if header.partition(" ")[0].lower() != "basic":
        return True
    return basic_credentials(header) is not None


def _raise_lane_outage() -> None:
    """The database outage the fast lane (idp.oidc.lanes) met before handing this
    request over, raised for the 503 handler rather than met a second time."""
    outage = request.environ.pop(DATABASE_FAILURE, None)
    if outage is not None:
        raise outage


def _finish(response: Response) -> Response:
    db = db_session()
    if response.status_code == 200:
        db.commit()
    else:
        db.rollback()
    return response


@bp.route("/token", methods=["POST"])
def token() -> Response:
    problem = _form_problem()
    if problem is None and not request.form.get("grant_type"):
        # RFC 6749 5.2: a missing required parameter is invalid_request (Authlib says
        # unsupported_grant_type); an unknown grant type stays unsupported_grant_type.
        problem = json_error("invalid_request", "Missing 'grant_type' in request.")
    return problem or _finish(server().create_token_response())


@bp.route("/introspect", methods=["POST"])
def introspect() -> Response:
    _raise_lane_outage()
    problem = _form_problem()
    if problem is not None:
        return problem
    # RFC 7662 introspection changes nothing: no BEGIN, no COMMIT (idp.oidc.reads).
    read_without_transaction(db_session())
    return _finish(server().create_endpoint_response("introspection"))


@bp.route("/revoke", methods=["POST"])
def revoke() -> Response:
    return _form_problem() or _finish(server().create_endpoint_response("revocation"))


def _bearer_challenge(error: str | None = None, status: int = 401) -> Response:
    value = 'Bearer realm="idp"' + (f', error="{error}"' if error else "")
    body = json.dumps({"error": error}) if error else ""
    return Response(
        body, status, {"WWW-Authenticate": value, "Content-Type": "application/json", **NO_STORE}
    )


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    # A hand-written bearer check (RFC 6750 2.1) rather than Authlib's ResourceProtector:
    # one indexed query resolves token and user, which this hot endpoint needs. Its
    # common request is answered before Flask (idp.oidc.lanes).
    _raise_lane_outage()
    if "access_token" in request.args or "access_token" in request.form:
        return _bearer_challenge("invalid_request", 400)
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _bearer_challenge()
    row = user_for_access_token(value.strip())
    if row is None:
        return _bearer_challenge("invalid_token")
    if "openid" not in row.token_scope.split():
        return _bearer_challenge("insufficient_scope", 403)
    g.idp_sub = row.sub  # for the request's log line
    body = json.dumps(userinfo_claims(row))
    return Response(body, 200, {"Content-Type": "application/json", **NO_STORE})
