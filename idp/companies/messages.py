"""Company registration's user-facing words, keyed by the codes of
:mod:`idp.companies.services` (and the juristic-ID codes of
:func:`idp.enrollment.identity.check_juristic_id`). Functions: each call translates into
the request's language."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.orgs.messages import contact_labels, upload_messages


def step_labels() -> list[tuple[str, str]]:
    """The wizard's steps (endpoint suffix, label), in order."""
    return [
        ("start", _("Company")),
        ("address", _("Address and contact")),
        ("admin", _("Administrator")),
        ("submit", _("Power of attorney")),
    ]


def field_messages() -> dict[str, str]:
    return {
        "juristic_id_format": _("A juristic ID has 13 digits."),
        "juristic_id_check_digit": _(
            "This juristic ID is not valid: check the digits (the last one is a check digit)."
        ),
        "name_th_missing": _("Enter the company's name in Thai."),
        "name_en_missing": _("Enter the company's name in English."),
        "office_missing": _("Choose head office or branch."),
        "branch_no_invalid": _("A branch number has 5 digits, for example 00001."),
        "required": _("Fill in this field."),
        "document_required": _("Upload a new power of attorney."),
        **upload_messages(),
    }


def problem_text(code: str, field: str = "") -> str:
    """The message for a problem code; ``profile:<message>`` carries its own; a missing
    field is named (the error summary lists several at once)."""
    if code == "required" and field:
        label = {**address_field_labels(), **contact_labels()}.get(field, field)
        return _("Fill in “%(field)s”.", field=label)
    if code.startswith("profile:"):
        return code.removeprefix("profile:")
    return field_messages().get(code, code)


def page_messages() -> dict[str, str]:
    return {
        "not_resubmittable": _(
            "This registration is waiting for an operator: there is nothing to correct now."
        ),
        "invalid": _("Some fields are missing or not valid."),
        "resubmitted": _("Thank you. Your corrected registration was sent to an operator."),
    }


def office_labels() -> dict[str, str]:
    return {"head_office": _("Head office"), "branch": _("Branch")}


def address_field_labels() -> dict[str, str]:
    """The address fields as the registration form names them (an address that may be
    a branch's, so not "head office address")."""
    return {
        "address": _("Address (number, building, street)"),
        "district": _("District"),
        "province": _("Province"),
        "postcode": _("Postcode"),
        "phone": _("Phone"),
    }
