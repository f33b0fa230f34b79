"""The operator console's user-facing messages, keyed by the codes of the domain errors
it shows and by its ``?m=`` codes, and the labels of its choices. Functions, not
constants: each call translates into the request's language. The organisation rules'
messages come from :mod:`idp.orgs.messages`, so both consoles word a rule alike."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.account import service_request_messages
from idp.account.password_messages import operator_messages as password_operator_messages
from idp.confirm import Confirmation
from idp.orgs.messages import admin_email_messages, org_rule_messages


def operator_messages() -> dict[str, str]:
    """The organisation and client pages' ``?m=`` messages."""
    return {
        **org_rule_messages(),
        **admin_email_messages(),
        "level_invalid": _("Choose one of the listed assurance levels."),
        "created_added": _("Organisation created; its first admin can use the console now."),
        "created_invited": _(
            "Organisation created; its first admin was invited by email (link valid 72 hours)."
        ),
        "name_missing": _("Enter the organisation's Thai name."),
        "admin_invalid": _("Enter the first admin's username or a valid email address."),
        "scope_added": _("Right added."),
        "email_not_allowed": _(
            "Only an admin's email can be changed here, and not your own: change yours "
            "on your account page."
        ),
    }


def people_messages() -> dict[str, str]:
    """The people page's ``?m=`` messages."""
    return {
        "disabled": _(
            "Account disabled. Its sessions, tokens and consents ended; the person was told."
        ),
        "enabled": _("Account enabled. The person was told."),
        "unlocked": _("Lockout lifted."),
        "self": _("You cannot disable your own account."),
        "reason_missing": _("Choose a reason."),
        # issue 11: "End all sessions" (idp/admin/person_sessions.py)
        "sessions_ended": _(
            "Sessions ended: the person is signed out everywhere and their applications "
            "were told; their refresh tokens ended too."
        ),
        "sessions_reason_missing": _("Give a reason for ending the sessions."),
        **service_request_messages.people_messages(),
        # issue 11: closing an account (idp/admin/closure_pages.py)
        "closed": _(
            "Account closed. Its sessions and tokens ended; the person was told. Its personal "
            "data will be erased after the retention period."
        ),
        "closure_reason_missing": _("Write the reason for closing the account."),
        "already_closed": _("This account is already closed."),
        "closed_not_enabled": _("A closed account cannot be enabled again."),
        # issue 11: the operator sends a password-reset code (idp.admin.reset_code_pages)
        "reset_code_sent": _(
            "A password-reset code was sent to the person's registered email (valid 10 "
            "minutes). They choose the new password themselves."
        ),
        "reset_reason_missing": _("Give a reason (at most 200 characters)."),
        "reset_too_soon": _("A reset code was sent less than 90 seconds ago: wait a moment."),
        **password_operator_messages(),  # issue 11: require a password change
    }


def reason_labels() -> dict[str, str]:
    """Why an account is disabled (:data:`idp.admin.accounts.REASONS`)."""
    return {
        "left": _("Left the organisation or the job"),
        "compromised": _("Account may be compromised"),
        "request": _("The person asked for it"),
        "other": _("Other"),
    }


def approval_warning_labels() -> dict[str, str]:
    """Why approving may be premature (``entitlements.approval_warnings`` codes)."""
    return {
        "no_admin": _("The organisation has no admin: nobody could manage its members."),
        "no_document": _("No power-of-attorney document has been uploaded."),
        "document_not_reviewed": _("Its power-of-attorney document has not been reviewed yet."),
        "document_rejected": _("Its power-of-attorney document was rejected."),
    }


def status_confirmation(action: str, org: str, warnings: tuple[str, ...] = ()) -> Confirmation:
    """Confirming an approval (with the reasons it may be premature) or a suspension."""
    if action == "approve":
        labels = approval_warning_labels()
        return Confirmation(
            title=_("Approve the organisation?"),
            question=_("Approve %(org)s?", org=org),
            details=(_("Its members can then sign in to its applications for it."),),
            warnings=tuple(labels[w] for w in warnings),
            confirm_label=_("Yes, approve anyway") if warnings else _("Yes, approve"),
            danger=bool(warnings),
        )
    return Confirmation(
        title=_("Suspend the organisation?"),
        question=_("Suspend %(org)s?", org=org),
        details=(
            _(
                "Every token issued to people acting for it ends at once; they cannot act "
                "for it until it is reactivated. Its admins are told by email."
            ),
        ),
        confirm_label=_("Yes, suspend"),
    )


def acr_labels() -> dict[str, str]:
    """The assurance levels (:data:`idp.oidc.acr.ACR_LADDER`) in words."""
    return {
        "urn:idp:acr:pwd": _("Password"),
        "urn:idp:acr:mfa-email": _("Password and an emailed code"),
        "urn:idp:acr:mfa": _("Two factors (authenticator app or security key)"),
        "urn:idp:acr:phr": _("Phishing-resistant (security key with user verification)"),
    }


def review_kind_labels() -> dict[str, str]:
    """The review queue's kinds (:data:`idp.enrollment.review.KINDS`)."""
    return {
        "staff_verification": _("Staff verification"),
        "company_registration": _("Company registration"),
        "document_check": _("Identity document already on file"),
        "service_request": _("Service request"),
    }


def review_status_labels() -> dict[str, str]:
    """A review item's status."""
    return {
        "open": _("waiting for a decision"),
        "more_info": _("waiting for the applicant"),
        "approved": _("approved"),
        "rejected": _("rejected"),
    }


def review_flag_labels() -> dict[str, str]:
    """Why an operator should look twice (``ReviewItem.flags``)."""
    return {
        "document_on_file": _(
            "The identity document is already on another account (the applicant was not told)."
        ),
    }


def review_messages() -> dict[str, str]:
    """The review pages' ``?m=`` messages and the :class:`ReviewError` codes."""
    return {
        "approved": _("Approved. The decision was recorded."),
        "rejected": _("Rejected. The decision and its reason were recorded."),
        "more_info": _("Question sent. The item waits for the applicant's answer."),
        "reason_required": _("Enter a reason for the rejection or the question to ask."),
        "decision_invalid": _("Choose approve, reject or ask for more information."),
        "more_info_unavailable": _(
            "You cannot ask for more information here: the question would tell the "
            "applicant that the document is already on file. Approve or reject."
        ),
        "already_decided": _(
            "This item was already decided, perhaps by another operator just now. "
            "Nothing was changed."
        ),
        "own_application": _("You cannot decide your own application: another operator must."),
        "not_found": _("There is no such item in the review queue."),
        **service_request_messages.review_messages(),
    }
