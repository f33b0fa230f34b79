"""The staff application's words: refusals, states and what happens next."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.enrollment.verifiers import Outcome, Verdict
from idp.orgs.messages import upload_messages


def application_messages() -> dict[str, str]:
    """Why a staff document was refused (a DocumentError or ApplicationError code)."""
    return {
        **upload_messages(),
        "document_missing": _("Choose the file of your staff ID card or signed form."),
        "not_staff": _("Only staff applicants send a staff document."),
        "already_verified": _("You are already a verified member of staff."),
        "sent": _("Thank you: your document is now waiting for an operator."),
        "already_submitted": _(
            "Your document is already waiting for an operator. You will get an email "
            "when they have looked at it."
        ),
    }


def directory_message(verdict: Verdict) -> str:
    """Step 2 after a directory check that did not find the person."""
    if verdict.outcome is Outcome.UNAVAILABLE:
        return _(
            "The staff directory cannot be reached just now. Continue without a check: "
            "you can then send your staff ID card or a signed form for an operator to check."
        )
    return _(
        "The staff directory did not find you. Continue without a check: you can then "
        "send your staff ID card or a signed form for an operator to check."
    )


def status_texts() -> dict[str, str]:
    """What each state of the application means for the applicant."""
    return {
        "not_sent": _(
            "Send your staff ID card or a form signed by your head of unit: an operator "
            "checks it and you get an email with the result."
        ),
        "pending": _(
            "An operator is checking your document. You will get an email with the "
            "result, usually within two working days. Until then you cannot sign in to "
            "the connected services."
        ),
        "more_info": _(
            "An operator needs more information. Read their question below and answer "
            "with a new document."
        ),
        "rejected": _(
            "An operator could not accept your document. Read the reason below, correct "
            "it and send a new document."
        ),
        "staff_verified": _(
            "You are a verified member of staff, with the staff badge. You can sign in "
            "to every connected service."
        ),
    }


def status_titles() -> dict[str, str]:
    return {
        "not_sent": _("Not sent yet"),
        "pending": _("Waiting for an operator"),
        "more_info": _("More information needed"),
        "rejected": _("Not approved"),
        "staff_verified": _("Approved"),
    }
