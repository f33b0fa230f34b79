"""Membership states (MISSION C2, C3), the one pure state machine.

::

                      register (no proof)                 proofed
      (new) ─────────────────────────────────► temporary ───────────► verified
        │  register (registry / identity app)     │   ▲                  ▲
        ├────────────────────────────────────────┼───┼──────────────────┘
        │                                        │   │ proofed
        │                       expire (60 days) ▼   │
        │                                      expired
        │  staff: directory match     ┌───────────────────────────┐
        ├────────────────────────────►│       staff_verified      │ (badge)
        │                             └───────────────────────────┘
        │  staff: document submitted        ▲ approved    ▲ directory match
        └──────────────────────────► pending ─────────────┘  (from any state)
                                       │  ▲
                              rejected ▼  │ document submitted (corrected)
                                     rejected

* ``temporary``: usable at once, expires ``temporary_days`` (60) after registration;
  reminders go out 14 and 3 days before (``REMINDER_DAYS``).
* ``verified``: the population registry or an identity app confirmed the person;
  permanent.
* ``staff_verified``: the agency's directory found them, or an operator approved their
  staff document; carries the staff badge. Also counts as verified.
* ``pending``: a staff document waits for an operator; no relying party gets a token.
* ``rejected``: the operator refused it, with a reason; the applicant corrects and
  submits again (back to pending). No tokens.
* ``expired``: a temporary membership past its date; sign-in says so and offers
  verification, which makes it verified.

Accounts made by an operator or an org admin (CLI, console invitations, the demo) are
``verified``: somebody accountable vouched for them; they carry no ``verified_claims``
because no verifier ran (those come only from verification records).

Values in, a new :class:`State` or :class:`TransitionRefused` out. ``now`` is passed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

DAY = 86400
REMINDER_DAYS = (14, 3)


class MemberType(StrEnum):
    PUBLIC = "public"
    STAFF = "staff"


class Status(StrEnum):
    TEMPORARY = "temporary"
    VERIFIED = "verified"
    STAFF_VERIFIED = "staff_verified"
    PENDING = "pending"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Event(StrEnum):
    REGISTERED = "registered"  # no proof yet
    PROOFED = "proofed"  # registry or identity app said yes
    DIRECTORY_MATCH = "directory_match"  # the agency directory has the person
    DOCUMENT_SUBMITTED = "document_submitted"  # staff card / signed form uploaded
    APPROVED = "approved"  # an operator accepted the staff document
    REJECTED = "rejected"  # an operator refused it
    EXPIRE = "expire"  # the job, at or after ``expires_at``


class TransitionRefused(ValueError):
    """The event does not apply in this state (the caller answers 409 or ignores it)."""

    def __init__(self, status: Status, event: Event) -> None:
        super().__init__(f"{event} not allowed in {status}")
        self.status, self.event = status, event


@dataclass(frozen=True)
class State:
    member_type: MemberType
    status: Status
    expires_at: int | None = None  # temporary only

    @property
    def has_badge(self) -> bool:
        return self.status is Status.STAFF_VERIFIED

    @property
    def is_verified(self) -> bool:
        return self.status in (Status.VERIFIED, Status.STAFF_VERIFIED)


# Where each event may happen; EXPIRE is further guarded by the clock.
_ALLOWED: dict[Event, frozenset[Status]] = {
    Event.PROOFED: frozenset(
        {Status.TEMPORARY, Status.EXPIRED, Status.VERIFIED, Status.PENDING, Status.REJECTED}
    ),
    Event.DIRECTORY_MATCH: frozenset(Status) - {Status.STAFF_VERIFIED},
    Event.DOCUMENT_SUBMITTED: frozenset(
        {Status.TEMPORARY, Status.VERIFIED, Status.EXPIRED, Status.REJECTED}
    ),
    Event.APPROVED: frozenset({Status.PENDING}),
    Event.REJECTED: frozenset({Status.PENDING}),
    Event.EXPIRE: frozenset({Status.TEMPORARY}),
}


def register(member_type: MemberType, now: int, temporary_days: int = 60) -> State:
    """The state of a new account before any proof: temporary, with its end date."""
    return State(member_type, Status.TEMPORARY, now + temporary_days * DAY)


def apply(state: State, event: Event, now: int) -> State:
    """The state after ``event``. Raises :class:`TransitionRefused` where the diagram
    has no such arrow (a decided application decided again, a staff event for a member
    of the public, expiry before its time)."""
    if event is Event.REGISTERED:
        raise TransitionRefused(state.status, event)  # only :func:`register` starts one
    if state.status not in _ALLOWED[event]:
        raise TransitionRefused(state.status, event)
    staff_only = (Event.DIRECTORY_MATCH, Event.DOCUMENT_SUBMITTED, Event.APPROVED)
    if event in staff_only and state.member_type is not MemberType.STAFF:
        raise TransitionRefused(state.status, event)
    if event is Event.EXPIRE:
        if state.expires_at is None or now < state.expires_at:
            raise TransitionRefused(state.status, event)
        return replace(state, status=Status.EXPIRED)
    if event is Event.PROOFED:
        if state.status in (Status.PENDING, Status.REJECTED):
            return state  # the staff review still decides; the proof is recorded
        return State(state.member_type, Status.VERIFIED)
    target = {
        Event.DIRECTORY_MATCH: Status.STAFF_VERIFIED,
        Event.DOCUMENT_SUBMITTED: Status.PENDING,
        Event.APPROVED: Status.STAFF_VERIFIED,
        Event.REJECTED: Status.REJECTED,
    }[event]
    return State(state.member_type, target, None)


def may_get_tokens(state: State, now: int) -> bool:
    """Whether a relying party may receive tokens for this person (R-05, R-07)."""
    if state.status is Status.TEMPORARY:
        return state.expires_at is None or now < state.expires_at
    return state.status in (Status.VERIFIED, Status.STAFF_VERIFIED)


def meets(state: State, required: str | None, now: int) -> bool:
    """A client's demand (``None`` | ``"verified"`` | ``"staff_verified"``)."""
    if not may_get_tokens(state, now):
        return False
    if required is None:
        return True
    if required == "verified":
        return state.is_verified
    return state.status is Status.STAFF_VERIFIED


def reminder_due(state: State, now: int, last_reminded_days: int | None) -> int | None:
    """The reminder threshold (14 or 3 days) to mail now, once each, or None."""
    if state.status is not Status.TEMPORARY or state.expires_at is None:
        return None
    left = state.expires_at - now
    if left <= 0:
        return None
    due = [d for d in REMINDER_DAYS if left <= d * DAY]
    if not due:
        return None
    threshold = min(due)
    if last_reminded_days is not None and last_reminded_days <= threshold:
        return None
    return threshold
