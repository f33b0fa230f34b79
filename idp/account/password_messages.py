"""Words for the password pages, the profile page and the operator's "require a
password change" action (codes of :mod:`idp.account.password_change` and
:mod:`idp.account.profile`), in the request's language."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.account.messages import account_messages


def password_messages() -> dict[str, str]:
    return {
        "current_wrong": _("That is not your current password."),
        "current_missing": _("Enter your current password."),
        "locked": _(
            "Too many wrong passwords: the account is locked for a few minutes. Try again later."
        ),
        "password_mismatch": _("The two new passwords are not the same."),
        "password_same": _("The new password must be different from your current one."),
        "password_missing": _("Enter a new password."),
        **{
            k: v
            for k, v in account_messages().items()
            if k in ("password_too_short", "password_too_long", "password_contains_identity")
        },
    }


def profile_messages() -> dict[str, str]:
    return {
        "required": _("Enter your given name in English or in Thai."),
        "name_too_long": _("A name has at most 100 characters."),
        "mobile": _("Enter a mobile number of 9 to 15 digits, for example 0812345678."),
    }


def account_page_messages() -> dict[str, str]:
    """``/account?m=`` after these pages."""
    return {
        "password_changed": _(
            "Password changed. Your other sessions were signed out; this one stays signed in."
        ),
        "profile_saved": _("Your details were saved."),
        "profile_unchanged": _("Nothing changed."),
    }


def operator_messages() -> dict[str, str]:
    """The people page's ``?m=`` after the operator's action."""
    return {
        "password_change_required": _(
            "The person must choose a new password at their next sign-in."
        ),
        "password_change_reason_missing": _("Give a reason."),
    }
