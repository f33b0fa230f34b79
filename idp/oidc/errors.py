"""Authorization error responses: to the client's redirect URI when it is verified
(with ``state`` and the RFC 9207 ``iss``), else an error page at the IdP."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.common.urls import add_params_to_uri
from flask import Response, redirect, render_template
from flask_babel import gettext as _

from idp.oidc.claims import settings
from idp.oidc.syntax import error_text, malformed_authorization_parameter


def redirect_error(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> Response:
    # 303 after a POSTed form, never 307 (P-09).
    return redirect(error_redirect_url(redirect_uri, error, description, state), code=303)


def error_redirect_url(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> str:
    """The verified redirect URI with an RFC 6749 4.1.2.1 error, ``state`` and the
    RFC 9207 ``iss`` (also the target of a page's "Back to the application" link)."""
    params = [("error", error)]
    if description:
        # RFC 6749 4.1.2.1: only %x20-21 / %x23-5B / %x5D-7E (a description may name a
        # parameter of the request).
        params.append(("error_description", error_text(description)))
    if state:
        params.append(("state", state))
    params.append(("iss", settings().issuer))
    return add_params_to_uri(redirect_uri, params)


def error_page(error: str, description: str | None = None, status: int = 400) -> tuple[str, int]:
    """A page at the IdP for errors that must not be redirected (unknown client,
    unregistered redirect URI: RFC 6749 4.1.2.1)."""
    return (
        render_template(
            "error.html",
            title=_("This sign-in request cannot be completed"),
            message=_(
                "The application sent an invalid sign-in request. Go back to the "
                "application and try again, or contact its support."
            ),
            error=error,
            description=description,
        ),
        status,
    )


def malformed_request_page(values: Mapping[str, str]) -> tuple[str, int] | None:
    """The error page for an authorization request whose ``redirect_uri`` or
    ``response_type`` is not even well-formed (CR/LF, NUL, quotes, non-ASCII...), else
    None. Such a redirect URI cannot be a registered one, so it is never redirected to
    (RFC 6749 4.1.2.1); asked before Authlib, which would fail on it (SECURITY.md I-03)."""
    name = malformed_authorization_parameter(values)
    if name is None:
        return None
    return error_page("invalid_request", f"Malformed '{name}' in request.")
