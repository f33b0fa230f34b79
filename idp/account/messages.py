"""The account area's user-facing messages, keyed by the codes that services raise and
views pass in ``?m=``. Functions, not constants: each call translates into the request's
language. Other areas reuse these texts from here instead of copying them."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from idp.confirm import Confirmation


def email_messages() -> dict[str, str]:
    """The self-service email change (SECURITY.md M-11) and the email codes shared by
    every page that changes or sends to an address."""
    return {
        "email_invalid": _("That email address is not valid."),
        "email_same": _("That is already your email address."),
        "email_taken": _("Another account already uses that email address."),
        "code_wrong": _("That code is not right. Check the latest mail and try again."),
        "code_expired": _("The code has expired or was tried too often. Ask for a new one."),
        "code_locked": _(
            "Too many wrong codes or passwords: the account is locked for a few minutes. "
            "Try again later."
        ),
        "code_recently_sent": _("A code was sent less than a minute ago: wait a moment."),
    }


def login_failed() -> str:
    """A wrong password, or a name without an account: one text (ASVS 6.3.8). It also
    covers an account locked through another of its names (its email, or wrong one-time
    codes): saying "paused" there would tell that the two names share an account."""
    return _(
        "Sign-in failed: the username or password is wrong, or sign-in is paused for a "
        "few minutes. Check them and try again."
    )


def login_paused(minutes: int) -> str:
    """Too many failures with this name: the same text whether or not an account has
    the name (the count is kept per typed name), so it confirms none."""
    return ngettext(
        "Sign-in with this username or email is paused for a few minutes after too many "
        "failed attempts. Wait %(num)d minute, then try again.",
        "Sign-in with this username or email is paused for a few minutes after too many "
        "failed attempts. Wait %(num)d minutes, then try again.",
        minutes,
    )


def reauth_reason(kind: str, name: str = "") -> str:
    """Why a signed-in person is asked for their password again (``interaction.Asker``:
    a relying party's ``prompt=login``/``max_age``, a console's age limit, or a change
    on the account page)."""
    if kind == "client":
        return _("For your security, %(app)s asks you to enter your password again.", app=name)
    if kind == "org_console":
        return _(
            "For your security, the organisation admin console asks you to enter your "
            "password again."
        )
    if kind == "operator_console":
        return _("For your security, the operator console asks you to enter your password again.")
    return _("For your security, enter your password again to continue.")


def withdraw_confirmation(app: str, asks_consent: bool = True) -> Confirmation:
    """``asks_consent``: False for an application that signs in without a consent page
    (its next sign-in gives it access again, so the page must not promise otherwise)."""
    again = (
        _(
            "Its sign-ins and tokens for you end now. It can use your account again "
            "only after you sign in to it and allow it again."
        )
        if asks_consent
        else _(
            "Its sign-ins and tokens for you end now. It does not ask for your consent, so "
            "it gets access again the next time you sign in to it."
        )
    )
    return Confirmation(
        title=_("Withdraw access?"),
        question=_("Withdraw the access of %(app)s to your account?", app=app),
        details=(again,),
        confirm_label=_("Yes, withdraw access"),
    )


def account_messages() -> dict[str, str]:
    """Why account data was refused (:class:`idp.account.services.AccountError` codes)."""
    return {
        "username_invalid": _(
            "A username has 2 to 64 characters: letters, digits, '.', '_', '@' or '-'."
        ),
        "email_invalid": email_messages()["email_invalid"],
        "password_too_short": _("The password is too short: use at least 8 characters."),
        "password_too_long": _("The password is too long: use at most 128 characters."),
        "password_contains_identity": _("The password must not contain your username or email."),
        "username_taken": _("That username is taken: choose another one."),
        "email_taken": email_messages()["email_taken"],
    }
