"""The registration wizard's words for the codes of :mod:`idp.enrollment.wizard`,
:mod:`idp.enrollment.identity` and :mod:`idp.enrollment.registration`."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.account.messages import account_messages


def field_messages() -> dict[str, str]:
    return {
        "member_type": _("Choose who you are registering as."),
        "agency": _("Choose your agency."),
        "national_id_format": _("Enter the 13 digits of your national ID card."),
        "national_id_check_digit": _(
            "This national ID number is not valid: check the digits on your card."
        ),
        "passport_format": _("Enter your passport number: 5 to 20 letters and digits."),
        "nationality_unknown": _("Choose your nationality."),
        "nationality_thai_use_id": _("Thai citizens register with their national ID card."),
        "passport_expiry_missing": _("Enter the expiry date of your passport."),
        "passport_expired": _("This passport has expired: register with a valid passport."),
        "email_invalid": _("Enter an email address like name@example.com."),
        "notice": _("Read and accept the personal data notice to continue."),
        "required": _("This field is required."),
        "birthdate": _("Enter your date of birth."),
        "mobile": _("Enter a mobile number of 9 to 15 digits, for example 0812345678."),
        "code_format": _("Enter the 6-digit code from the email."),
        "wrong": _("That code is not right. Check the email and try again."),
        "spent": _("That code can no longer be used. Ask for a new code."),
        "password_mismatch": _("The two passwords are not the same."),
        "too_many_codes": _("Too many codes were sent for this registration. Start again."),
        "names": _("Enter your names in Thai."),
    }


def message(code: str) -> str:
    """The words for a field or registration code (a password policy code too)."""
    words = field_messages()
    if code in words:
        return words[code]
    return account_messages().get(code, _("Check this field."))
