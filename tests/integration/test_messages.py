"""Every code a service can refuse with has a message in its area's messages module
(issue 8: one module of user-facing messages per area), so no view shows a bare code.
The codes are read from the services' source, so a new code without a message fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import idp
from idp.account.messages import email_messages
from idp.admin.messages import operator_messages, people_messages
from idp.admin.services import CreateRefused
from idp.orgs.entitlements import OrgError
from idp.orgs.messages import console_messages, invitation_message, upload_messages

SOURCE = Path(idp.__file__).parent


def _raised(path: str, error: str) -> set[str]:
    codes = set(re.findall(rf'raise {error}\("(\w+)"', (SOURCE / path).read_text()))
    assert codes, f"no {error} codes found in {path}"  # the pattern still matches the code
    return codes


def _subclasses(cls: type) -> set[type]:
    return {c for sub in cls.__subclasses__() for c in {sub, *_subclasses(sub)}}


@pytest.fixture
def request_context(app):
    with app.test_request_context("/"):
        yield


@pytest.mark.parametrize(
    ("path", "error", "maps"),
    [
        ("orgs/services.py", "EmailChangeRefused", (console_messages, operator_messages)),
        ("account/email_change.py", "EmailChangeError", (email_messages,)),
        ("orgs/documents.py", "DocumentError", (upload_messages,)),
        ("admin/accounts.py", "AccountChangeRefused", (people_messages,)),
        ("admin/services.py", "CreateRefused", (operator_messages,)),
    ],
)
def test_every_refusal_code_has_a_message(request_context, path, error, maps):
    for messages in maps:
        assert _raised(path, error) - set(messages()) == set()


def test_every_organisation_rule_has_a_message_in_both_consoles(request_context):
    codes = {c.code for c in _subclasses(OrgError) if c is not CreateRefused}
    assert {"seat_limit_reached", "last_admin", "limit_below_usage"} <= codes
    for messages in (console_messages, operator_messages):
        assert codes - set(messages()) == set()


def test_every_invitation_code_has_a_message(request_context):
    for code in _raised("orgs/invitations.py", "InvitationError"):
        assert code in console_messages() or invitation_message(code) != code, code
