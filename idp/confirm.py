"""Confirmation of the actions that cannot be undone with one click (issue 9): removing
a member, approving or suspending an organisation, withdrawing an application's access,
removing a sign-in factor.

Server-side, so it works without JavaScript and a test can check it: the action's POST
without ``confirm=yes`` changes nothing and renders one shared page (``confirm.html``)
that says what will happen and posts the same fields again with ``confirm=yes`` and a
fresh CSRF token; only that second POST acts. The CSRF check comes first, as for any
POST.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flask import render_template, request

CONFIRM_FIELD = "confirm"
NOT_COPIED = ("csrf_token", CONFIRM_FIELD)


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says (each area words its own, in messages.py)."""

    title: str
    question: str
    confirm_label: str  # "Yes, ..." on the button
    details: Sequence[str] = ()  # what will happen
    warnings: Sequence[str] = field(default_factory=tuple)  # why it may be wrong
    danger: bool = True


def confirmed() -> bool:
    """The POST comes from the confirmation page's "Yes" button."""
    return request.form.get(CONFIRM_FIELD) == "yes"


def confirmation_page(
    text: Confirmation, cancel_url: str, extra_fields: Mapping[str, str] | None = None
) -> str:
    """The page asking to confirm this POST: its fields again (``extra_fields`` added
    or replaced), to the same URL."""
    extra = dict(extra_fields or {})
    fields = [
        (k, v) for k, v in request.form.items(multi=True) if k not in NOT_COPIED and k not in extra
    ]
    fields += list(extra.items())
    return render_template(
        "confirm.html",
        text=text,
        action=request.full_path.rstrip("?"),
        fields=fields,
        cancel_url=cancel_url,
    )
