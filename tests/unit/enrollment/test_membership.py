"""The membership state machine (MISSION C2, C3; SECURITY.md R-05..R-07)."""

from __future__ import annotations

import pytest

from idp.enrollment.membership import (
    DAY,
    Event,
    MemberType,
    State,
    Status,
    TransitionRefused,
    apply,
    may_get_tokens,
    meets,
    register,
    reminder_due,
)

T0 = 1_800_000_000
PUBLIC, STAFF = MemberType.PUBLIC, MemberType.STAFF


def test_a_new_member_is_temporary_for_60_days_C2():
    state = register(PUBLIC, T0)
    assert state.status is Status.TEMPORARY and state.expires_at == T0 + 60 * DAY
    assert may_get_tokens(state, T0 + 60 * DAY - 1)
    assert not may_get_tokens(state, T0 + 60 * DAY)


@pytest.mark.parametrize(
    "member_type, status, event, expected",
    [
        (PUBLIC, Status.TEMPORARY, Event.PROOFED, Status.VERIFIED),
        (PUBLIC, Status.EXPIRED, Event.PROOFED, Status.VERIFIED),
        (PUBLIC, Status.VERIFIED, Event.PROOFED, Status.VERIFIED),
        (STAFF, Status.TEMPORARY, Event.DIRECTORY_MATCH, Status.STAFF_VERIFIED),
        (STAFF, Status.PENDING, Event.DIRECTORY_MATCH, Status.STAFF_VERIFIED),
        (STAFF, Status.VERIFIED, Event.DOCUMENT_SUBMITTED, Status.PENDING),
        (STAFF, Status.REJECTED, Event.DOCUMENT_SUBMITTED, Status.PENDING),
        (STAFF, Status.PENDING, Event.APPROVED, Status.STAFF_VERIFIED),
        (STAFF, Status.PENDING, Event.REJECTED, Status.REJECTED),
        (STAFF, Status.PENDING, Event.PROOFED, Status.PENDING),  # the review still decides
    ],
)
def test_transitions_of_the_diagram(member_type, status, event, expected):
    state = State(member_type, status, T0 if status is Status.TEMPORARY else None)
    assert apply(state, event, T0).status is expected


@pytest.mark.parametrize(
    "member_type, status, event",
    [
        (STAFF, Status.STAFF_VERIFIED, Event.APPROVED),  # decided twice (R-06: 409)
        (STAFF, Status.REJECTED, Event.APPROVED),  # approving a rejected one
        (STAFF, Status.REJECTED, Event.REJECTED),
        (STAFF, Status.EXPIRED, Event.APPROVED),
        (PUBLIC, Status.TEMPORARY, Event.DIRECTORY_MATCH),  # staff events need staff
        (PUBLIC, Status.VERIFIED, Event.DOCUMENT_SUBMITTED),
        (STAFF, Status.STAFF_VERIFIED, Event.DIRECTORY_MATCH),
        (PUBLIC, Status.VERIFIED, Event.EXPIRE),
        (PUBLIC, Status.TEMPORARY, Event.REGISTERED),
    ],
)
def test_arrows_the_diagram_does_not_have_are_refused(member_type, status, event):
    with pytest.raises(TransitionRefused):
        apply(State(member_type, status, T0), event, T0 + 61 * DAY)


def test_expiry_only_at_its_time_R07():
    state = register(PUBLIC, T0)
    with pytest.raises(TransitionRefused):
        apply(state, Event.EXPIRE, T0 + 60 * DAY - 1)
    expired = apply(state, Event.EXPIRE, T0 + 60 * DAY)
    assert expired.status is Status.EXPIRED and not may_get_tokens(expired, T0 + 60 * DAY)


@pytest.mark.parametrize(
    "status, ok",
    [
        (Status.PENDING, False),
        (Status.REJECTED, False),
        (Status.EXPIRED, False),
        (Status.VERIFIED, True),
        (Status.STAFF_VERIFIED, True),
    ],
)
def test_no_tokens_before_approval_or_after_rejection_R05_R06(status, ok):
    assert may_get_tokens(State(STAFF, status), T0) is ok


def test_client_requirements():
    temporary, verified = register(PUBLIC, T0), State(PUBLIC, Status.VERIFIED)
    badge = State(STAFF, Status.STAFF_VERIFIED)
    assert meets(temporary, None, T0) and not meets(temporary, "verified", T0)
    assert meets(verified, "verified", T0) and not meets(verified, "staff_verified", T0)
    assert meets(badge, "verified", T0) and meets(badge, "staff_verified", T0)
    assert badge.has_badge and not verified.has_badge


def test_reminders_14_and_3_days_before_once_each():
    state = register(PUBLIC, T0)
    end = state.expires_at
    assert reminder_due(state, end - 15 * DAY, None) is None
    assert reminder_due(state, end - 14 * DAY, None) == 14
    assert reminder_due(state, end - 10 * DAY, 14) is None  # already sent
    assert reminder_due(state, end - 3 * DAY, 14) == 3
    assert reminder_due(state, end - 1 * DAY, 3) is None
    assert reminder_due(state, end - 2 * DAY, None) == 3  # a missed 14 is not sent late
    assert reminder_due(State(PUBLIC, Status.VERIFIED), end - 3 * DAY, None) is None
