"""The second-factor pages' user-facing messages, keyed by :class:`MfaError` codes.
Functions, not constants: each call translates into the request's language."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.confirm import Confirmation


def mfa_message(code: str) -> str:
    """The message for an MfaError code (a generic one for any other code)."""
    return {
        "wrong_code": _(
            "The code is not correct, or the account is temporarily locked. "
            "After 5 failed attempts sign-in is locked for 5 minutes."
        ),
        "enrolment_expired": _("This setup has expired. Start again."),
    }.get(code, _("The request could not be processed."))


def security_messages() -> dict[str, str]:
    """The security page (``/account/security?m=``); a Jinja global for its template."""
    return {
        "last_factor": _(
            "You cannot remove your last second factor: an application you use "
            "requires one. Add another factor first."
        ),
        "revoked": _("The factor was removed. We sent you an email about it."),
    }


def step_up_reason(kind: str, name: str = "") -> str:
    """The second-factor page's first line: who asks for it (``interaction.Asker``)."""
    if kind == "client":
        return _("%(app)s asks you to confirm it is you with a second step.", app=name)
    if kind == "org_console":
        return _("The organisation admin console needs a second step to confirm it is you.")
    if kind == "operator_console":
        return _("The operator console needs a second step to confirm it is you.")
    return _("Confirm it is you with a second step.")


def enrol_reason(kind: str, name: str = "") -> str:
    """The enrolment page's first line: who requires the new factor, or that the
    person adds one of their own accord (from the account page)."""
    if kind == "client":
        return _(
            "%(app)s requires a second step when you sign in. Set up an authenticator app "
            "(soft token) on your phone.",
            app=name,
        )
    if kind == "org_console":
        return _(
            "The organisation admin console requires a second step. Set up an "
            "authenticator app (soft token) on your phone."
        )
    if kind == "operator_console":
        return _(
            "The operator console requires a second step. Set up an authenticator app "
            "(soft token) on your phone."
        )
    if kind == "registration":
        return _(
            "Your membership requires a second step when you sign in. Set up an "
            "authenticator app (soft token) on your phone to finish registering."
        )
    if kind == "renew":
        return _(
            "Set up the authenticator app (soft token) that replaces the one that expires soon."
        )
    return _(
        "You are adding an authenticator app (soft token) on your phone as a second step "
        "for signing in."
    )


def revoke_confirmation(name: str) -> Confirmation:
    return Confirmation(
        title=_("Remove a second factor?"),
        question=_("Remove '%(name)s' from your account?", name=name),
        details=(_("You can no longer sign in with it. We will send you an email about it."),),
        confirm_label=_("Yes, remove it"),
    )


def revoke_reason_labels() -> dict[str, str]:
    """Why a factor was removed (``mfa_factors.revoke_reason``): the reasons a person
    chooses on the security page, and ``renewed`` for a soft token replaced by renewal.
    Also a Jinja global (``factor_reason_labels``), so a mail says it in the
    recipient's language."""
    return {
        "name_change": _("Name change"),
        "new_phone": _("New phone"),
        "lost_device": _("Lost device"),
        "other": _("Other"),
        "renewed": _("Replaced by a renewed one"),
    }


def default_factor_names() -> dict[str, str]:
    """The name a new factor gets when the person leaves the name empty, in their
    language (it is theirs to rename); keyed by ``mfa_factors.kind``."""
    return {"totp": _("Authenticator"), "webauthn": _("Security key")}
