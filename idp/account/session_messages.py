"""Words of the sessions list on /account and of the operator's "End all sessions"
(issue 11). Functions: each call translates into the request's language."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.confirm import Confirmation


def end_one_confirmation(device: str) -> Confirmation:
    return Confirmation(
        title=_("Sign out that device?"),
        question=_("Sign out %(device)s?", device=device),
        details=(
            _(
                "It is signed out at once, and so are the applications you signed in to "
                "through it. Whoever uses it must sign in again."
            ),
        ),
        confirm_label=_("Yes, sign it out"),
    )


def end_others_confirmation(count: int) -> Confirmation:
    return Confirmation(
        title=_("Sign out all other devices?"),
        question=_("Sign out your %(count)d other sessions?", count=count)
        if count != 1
        else _("Sign out your other session?"),
        details=(
            _(
                "They are signed out at once, and so are the applications you signed in "
                "to through them. This device stays signed in."
            ),
        ),
        confirm_label=_("Yes, sign them out"),
    )


def session_messages() -> dict[str, str]:
    """The /account page's ``?m=`` messages of this section."""
    return {
        "session_ended": _("That device is signed out."),
        "sessions_ended": _("Your other devices are signed out."),
    }
