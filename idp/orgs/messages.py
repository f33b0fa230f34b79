"""The organisation area's user-facing messages, keyed by the codes of its domain errors
(:class:`idp.orgs.entitlements.OrgError`, ``EmailChangeRefused``, ``InvitationError``,
``DocumentError``) and by the ``?m=`` codes of the org admin console. Functions, not
constants: each call translates into the request's language. The operator console
reuses the rule messages from here; email texts come from the account area."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.account.messages import account_messages, email_messages
from idp.confirm import Confirmation


def org_rule_messages() -> dict[str, str]:
    """One message per :class:`OrgError` code, for every console that applies the rules."""
    return {
        "saved": _("Saved."),
        "member_limit_reached": _("The organisation has reached its member limit."),
        "seat_limit_reached": _(
            "All seats for this right are in use. Revoke it from someone first."
        ),
        "last_admin": _("The organisation needs at least one admin: add the successor first."),
        "status_conflict": _("That change does not apply to the organisation's current status."),
        "limit_invalid": _("Enter a whole number of at least 1."),
        "limit_below_usage": _(
            "The limit is below what is already in use. Ask the organisation to remove "
            "people first, or choose a higher limit."
        ),
        "invalid_identifier": _(
            "The identifier is not valid: a company has a 13-digit juristic ID with its check "
            "digit, an agency a code of 2 to 32 letters, digits or dashes."
        ),
        "identifier_taken": _("An organisation with that identifier already exists."),
        "scope_exists": _("The client already declares a right with that name."),
        "scope_name_invalid": _(
            "A right is named application:right in lower-case letters, digits and "
            "dashes, for example einvoice:submit."
        ),
    }


def admin_email_messages() -> dict[str, str]:
    """Outcomes of :func:`idp.orgs.services.change_admin_email` (MISSION A7), except
    ``email_not_allowed``, which each console words for its own reader."""
    email = email_messages()
    return {
        "email_changed": _("Email changed. Both addresses were notified."),
        "email_invalid": email["email_invalid"],
        "email_taken": email["email_taken"],
    }


def console_messages() -> dict[str, str]:
    """The org admin console's ``?m=`` messages."""
    return {
        **org_rule_messages(),
        **admin_email_messages(),
        "member_removed": _(
            "Member removed. Their sessions and tokens for this "
            "organisation's applications have ended."
        ),
        "role_changed": _("Role changed."),
        "document_uploaded": _(
            "Document uploaded. A platform operator will review it; the previous one is kept."
        ),
        "invited": _(
            "If this address can join, we have sent it an invitation: a person with an "
            "account accepts it after signing in, anyone else creates an account with "
            "it. The link works once, within 72 hours."
        ),
        "already_member": _("That address belongs to a member of this organisation."),
        "invitation_withdrawn": _("Invitation withdrawn: its link no longer works."),
        "email_not_allowed": _(
            "Only another admin's email can be changed here, and only when "
            "the organisation has at least two admins. Otherwise ask a "
            "platform operator."
        ),
    }


def invitation_message(code: str) -> str:
    """Why accepting an invitation failed (an :class:`InvitationError` code)."""
    return {
        "national_id_invalid": _("The national ID is not valid (13 digits with check digit)."),
        "passport_invalid": _("Enter the passport number and the two-letter nationality code."),
        "identity_missing": _("Choose how you identify yourself."),
        "identity_on_file": _(
            "This identity document is already registered to an account. "
            "Sign in with that account, or contact the operators."
        ),
        "invitation_expired": _("This invitation has expired or was already used."),
        "member_limit_reached": org_rule_messages()["member_limit_reached"],
        "other_account": _("This invitation is for another account."),
        **account_messages(),
    }.get(code, _("The invitation could not be accepted. Check the form and try again."))


def upload_messages() -> dict[str, str]:
    """Why a power-of-attorney upload was refused (a :class:`DocumentError` code)."""
    return {
        "document_empty": _("Choose a file: the one sent was empty."),
        "document_too_large": _("The file is larger than 10 MB."),
        "document_too_large_image": _("The image is too large (over 10,000 pixels a side)."),
        "document_type": _("Only PDF, PNG and JPEG files are accepted."),
        "document_active_content": _(
            "The PDF contains scripts, forms or attachments. Save it as a plain PDF "
            "(for example with Print to PDF) and try again."
        ),
        "document_too_complex": _("The file could not be checked. Save it again and retry."),
    }


def profile_messages() -> dict[str, str]:
    """Why the organisation's profile (addresses, contact) was refused, by field check."""
    return {
        "postcode_invalid": _("A Thai postcode has 5 digits."),
        "phone_invalid": _("A phone number has 6 to 20 digits, spaces or dashes."),
        "email_invalid": email_messages()["email_invalid"],
        "website_invalid": _("A website address starts with https://."),
    }


def remove_member_confirmation(person: str, org: str) -> Confirmation:
    return Confirmation(
        title=_("Remove a member?"),
        question=_("Remove %(person)s from %(org)s?", person=person, org=org),
        details=(
            _(
                "Their rights in the organisation end, and so do their sessions and tokens "
                "for its applications. To have them back, invite them again."
            ),
        ),
        confirm_label=_("Yes, remove from the organisation"),
    )


def contact_labels() -> dict[str, str]:
    """The organisation's contact fields (:data:`idp.orgs.addresses.CONTACT_FIELDS`)."""
    return {
        "contact_name": _("Contact person"),
        "contact_email": _("Contact email"),
        "contact_phone": _("Contact phone"),
        "website": _("Website"),
    }


def address_labels() -> dict[str, str]:
    """The head office's fields (:data:`idp.orgs.addresses.ADDRESS_FIELDS`)."""
    return {
        "address": _("Head office address"),
        "district": _("District"),
        "province": _("Province"),
        "postcode": _("Postcode"),
        "phone": _("Phone"),
    }


def role_labels() -> dict[str, str]:
    return {"admin": _("admin"), "member": _("member")}


def status_labels() -> dict[str, str]:
    """An organisation's status (``organizations.status``)."""
    return {
        "pending": _("pending approval"),
        "active": _("active"),
        "suspended": _("suspended"),
        "rejected": _("rejected"),
    }


def kind_label(kind: str) -> str:
    """What an organisation is (``organizations.kind``): a company or an agency."""
    return _("Company") if kind == "company" else _("Government agency")


def kind_wording(kind: str, name: str = "") -> dict[str, str]:
    """Sentences that name the organisation by its kind ("company" or "agency": in Thai
    บริษัท or หน่วยงาน, never one word for both); ``name`` is the organisation's name in
    the page's language (:func:`idp.localized.org_name`)."""
    if kind == "company":
        return {
            "no_right": _(
                "Your company %(org)s has not given you a right to use this application.",
                org=name,
            ),
            "suspend_note": _(
                "Suspending ends at once every token issued to people acting for this "
                "company; they cannot act for it until it is reactivated."
            ),
            "no_admin": _("This company has no admin."),
            "no_contact": _("The company has not entered any yet."),
            "remove_member": _("Remove from the company"),
            "console_title": _("Company admin"),
            "profile_title": _("Company profile"),
        }
    return {
        "no_right": _(
            "Your agency %(org)s has not given you a right to use this application.", org=name
        ),
        "suspend_note": _(
            "Suspending ends at once every token issued to people acting for this "
            "agency; they cannot act for it until it is reactivated."
        ),
        "no_admin": _("This agency has no admin."),
        "no_contact": _("The agency has not entered any yet."),
        "remove_member": _("Remove from the agency"),
        "console_title": _("Agency admin"),
        "profile_title": _("Agency profile"),
    }
