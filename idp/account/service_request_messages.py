"""The words of service requests (issue 11, MISSION B6): kinds, fields, states, what
was done, and why a request was refused; for the person's pages, the operator's
review page and the result mail. Called at render time (the page's or the mail's
language)."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.orgs.forms import _REQUIRED, _TOO_LONG  # the field messages, written once
from idp.orgs.messages import profile_messages, upload_messages


def kind_labels() -> dict[str, str]:
    """:data:`idp.account.service_requests.KINDS`."""
    return {
        "lost_device": _("Lost or replaced phone or security key"),
        "locked_authenticator": _("Authenticator app locked or deleted"),
        "email_change": _("New email address (the old one is gone)"),
        "holder_change": _("Change of holder (the previous holder resigned or moved)"),
    }


def kind_hints() -> dict[str, str]:
    """What approving each kind does, said before the person files it."""
    return {
        "lost_device": _(
            "After approval all your second factors are removed and your sessions end; "
            "you set up a new one at your next sign-in that needs it."
        ),
        "locked_authenticator": _(
            "After approval all your second factors are removed and your sessions end; "
            "you set up your authenticator app again at your next sign-in that needs it."
        ),
        "email_change": _(
            "After approval we send a code to the new address; your email changes once "
            "you enter that code on this request's page."
        ),
        "holder_change": _(
            "After approval the organisation's admin right moves to the new holder: a "
            "member of the organisation at once, anyone else by an invitation email."
        ),
    }


def field_labels() -> dict[str, str]:
    """The B6 form's fields (:data:`idp.account.service_requests.FIELDS`)."""
    return {
        "unit_code": _("Unit code"),
        "given_name": _("Given name"),
        "family_name": _("Family name"),
        "email": _("Contact email"),
        "phone": _("Phone"),
        "division": _("Division"),
        "department": _("Department"),
        "ministry": _("Ministry"),
        "username": _("Username"),
        "explanation": _("What happened"),
        "new_email": _("New email address"),
        "org_id": _("Organisation"),
        "new_holder_email": _("New holder's email"),
        "document": _("Supporting document"),
    }


def status_labels() -> dict[str, str]:
    """A request's state, as the person reads it (its review item's status)."""
    return {
        "open": _("waiting for an operator"),
        "more_info": _("waiting for an operator"),
        "approved": _("approved"),
        "rejected": _("rejected"),
    }


def result_labels() -> dict[str, str]:
    """What the system did (``ServiceRequest.result``)."""
    return {
        "factors_reset": _(
            "Your second factors were removed and your sessions ended. Set up a new "
            "one at your next sign-in that needs it."
        ),
        "email_code_sent": _(
            "We sent a code to your new address. Enter it on this request's page to "
            "change your email."
        ),
        "email_changed": _("Your email address was changed."),
        "holder_promoted": _("The new holder now has the organisation's admin right."),
        "holder_invited": _(
            "The new holder was invited by email as the organisation's admin (the link "
            "works for 72 hours)."
        ),
    }


def request_errors() -> dict[str, str]:
    """Why a request or a field was refused (:class:`RequestError` codes); the phone
    and upload messages are those of the organisation pages."""
    return {
        **upload_messages(),
        "phone_invalid": profile_messages()["phone_invalid"],
        "required": str(_REQUIRED),
        "too_long": str(_TOO_LONG),
        "email_invalid": _("Enter a valid email address, like name@example.org."),
        "email_same": _("This is already your email address."),
        "email_taken": _("This address cannot be used. Choose another one."),
        "org_invalid": _("Choose one of your organisations."),
        "new_holder_required": _(
            "You are an admin of this organisation: give the new holder's email."
        ),
        "kind_invalid": _("Choose what you need."),
        "already_open": _(
            "You already have an open request of this kind. Wait for its answer; you "
            "can see it on your account page."
        ),
        "not_awaiting_code": _("This request is not waiting for a code."),
        "code_wrong": _("That code is not right. Check the mail and try again."),
        "code_expired": _("The code expired or was used. Ask for a new one."),
        "code_locked": _("Too many tries. Wait a few minutes and try again."),
        "code_recently_sent": _("We sent a code a moment ago. Wait a minute before asking again."),
    }


def review_messages() -> dict[str, str]:
    """Why an operator's decision on a service request was refused (ReviewError
    codes shown on the review page)."""
    return {
        "service_request_no_question": _(
            "A service request is approved or rejected. To learn more, contact the "
            "person, then decide."
        ),
        "service_request_email_taken": _(
            "The new address is now used by another account: reject the request with a reason."
        ),
        "service_request_holder_refused": _(
            "The change of holder cannot be made as asked (the organisation is full, "
            "the address is invalid, or no admin would remain). Reject it with a reason."
        ),
    }


def people_messages() -> dict[str, str]:
    """The people page's messages for the "reset second factors" action."""
    return {
        "factors_reset": _(
            "Second factors reset: all factors and recovery codes removed, sessions "
            "ended; the person was told."
        ),
        "factors_reason_missing": _("Enter a reason for resetting the second factors."),
        "factors_self": _("You cannot reset your own second factors here."),
    }
