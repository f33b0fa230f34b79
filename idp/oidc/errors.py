"""Authorization error responses: to the client's redirect URI when it is verified
(with ``state`` and the RFC 9207 ``iss``), else an error page at the IdP."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from flask import Response, redirect, render_template
from flask_babel import gettext as _

from idp.oidc.claims import settings


def redirect_error(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> Response:
    params = [("error", error)]
    if description:
        params.append(("error_description", description))
    if state:
        params.append(("state", state))
    params.append(("iss", settings().issuer))
    # 303 after a POSTed form, never 307 (P-09).
    return redirect(add_params_to_uri(redirect_uri, params), code=303)


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
