"""Organisation rules (pure): identifiers, member and seat limits, the last admin.

Values in, decision or domain error out; the services hold the locks that make the
counts they pass in trustworthy (STYLE.md: three rooms).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field


class OrgError(ValueError):
    """A rule refused the change; ``code`` selects the translated message."""

    code = "org_error"

    def __init__(self, **params: object) -> None:
        super().__init__(self.code)
        self.params = params


class SeatLimitReached(OrgError):
    code = "seat_limit_reached"


class MemberLimitReached(OrgError):
    code = "member_limit_reached"


class LastAdmin(OrgError):
    code = "last_admin"


class InvalidIdentifier(OrgError):
    code = "invalid_identifier"


def juristic_id_is_valid(value: str) -> bool:
    """A Thai 13-digit juristic (or national) ID: digit 13 is a mod-11 check digit of
    the first 12 weighted 13..2."""
    if not re.fullmatch(r"\d{13}", value or ""):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(value[:12]))
    return (11 - total % 11) % 10 == int(value[12])


def check_identifier(kind: str, identifier: str) -> str:
    identifier = identifier.strip()
    if kind == "company" and not juristic_id_is_valid(identifier):
        raise InvalidIdentifier(identifier=identifier)
    if kind == "agency" and not re.fullmatch(r"[A-Za-z0-9-]{2,32}", identifier):
        raise InvalidIdentifier(identifier=identifier)
    if kind not in ("company", "agency"):
        raise InvalidIdentifier(kind=kind)
    return identifier


def check_member_limit(members: int, limit: int) -> None:
    """MISSION A4: at most ``limit`` people per organisation (default 10)."""
    if members >= limit:
        raise MemberLimitReached(used=members, limit=limit)


def check_seat(used: int, limit: int | None) -> None:
    """MISSION A4: e.g. at most 3 people per company may hold e-Invoice."""
    if limit is not None and used >= limit:
        raise SeatLimitReached(used=used, limit=limit)


def check_admin_change(admins: int, target_is_admin: bool, demoting: bool) -> None:
    """MISSION A3: an organisation keeps at least one admin; the last admin can neither
    remove themself nor drop their admin right (add the successor first)."""
    if target_is_admin and demoting and admins <= 1:
        raise LastAdmin()


def may_change_admin_email(
    *, by_operator: bool, actor_is_admin: bool, target_is_admin: bool, is_self: bool, admins: int
) -> bool:
    """MISSION A7: may this actor change this person's email for them (the new address
    then stays unverified until proven)?

    Only an org admin's email, and never one's own: that is the self-service change,
    which needs a code sent to the new address (SECURITY.md M-11). A platform operator
    may for any admin of the organisation; an org admin for another admin, which the
    organisation has only when it has at least two (a single admin asks the operator).
    """
    if is_self or not target_is_admin:
        return False
    if by_operator:
        return True
    return actor_is_admin and admins >= 2


def effective_scopes(
    requested: Iterable[str], declared: Collection[str], held: Collection[str]
) -> list[str]:
    """Token scopes: of the requested ones, every scope the client does not declare as
    an organisation scope (openid, profile, ...) and, of the ones it declares, only those
    the person holds in the organisation they act for (SECURITY.md E-05). Login and the
    refresh grant both call this."""
    return [s for s in requested if s not in declared or s in held]


@dataclass(frozen=True)
class OrgFacts:
    """What decides the organisation step for one person at one client."""

    declared: frozenset[str]  # the client's organisation scopes; empty: not an org client
    candidates: tuple[int, ...] = ()  # orgs that may use the client and have the person
    held: Mapping[int, frozenset[str]] = field(default_factory=dict)  # org id -> scopes
    remembered: int | None = None  # the person's remembered choice at this client


@dataclass(frozen=True)
class OrgChoice:
    kind: str  # "none" (not an org client) | "ok" | "select" | "deny"
    org_id: int | None = None
    scope: tuple[str, ...] = ()


def choose_org(
    facts: OrgFacts, requested: Iterable[str], chosen: int | None, use_remembered: bool = True
) -> OrgChoice:
    """Which organisation the person acts for (MISSION A2-A4): the one chosen in this
    flow, else the remembered one, else the only candidate; several -> "select"; none,
    or one where the person holds none of the client's scopes -> "deny"."""
    requested = list(requested)
    if not facts.declared:
        return OrgChoice("none", scope=tuple(requested))
    if not facts.candidates:
        return OrgChoice("deny")
    if chosen is None and use_remembered:
        chosen = facts.remembered
    org_id = chosen if chosen in facts.candidates else None
    if org_id is None and len(facts.candidates) == 1:
        org_id = facts.candidates[0]
    if org_id is None:
        return OrgChoice("select")
    return scopes_for(facts, org_id, requested)


def scopes_for(facts: OrgFacts, org_id: int, requested: Iterable[str]) -> OrgChoice:
    """The scopes of a person acting for ``org_id``; "deny" when the organisation no
    longer lets them use the client at all. The refresh grant re-checks with this."""
    held = facts.held.get(org_id, frozenset())
    if org_id not in facts.candidates or not held:
        return OrgChoice("deny", org_id=org_id)
    return OrgChoice("ok", org_id, tuple(effective_scopes(requested, facts.declared, held)))


class StatusConflict(OrgError):
    code = "status_conflict"


class LimitBelowUsage(OrgError):
    code = "limit_below_usage"


class LimitOutOfRange(LimitBelowUsage):
    """Not a whole number from 1 to the maximum (a subclass: callers that only care
    whether the limit was refused need catch one class)."""

    code = "limit_invalid"


# Operator decisions on an organisation's status: action -> (allowed from, to).
STATUS_ACTIONS = {
    "approve": ({"pending"}, "active"),
    "suspend": ({"pending", "active"}, "suspended"),
    "reactivate": ({"suspended"}, "active"),
}
MAX_MEMBER_LIMIT = 10_000


def next_status(current: str, action: str) -> str:
    """Approving an already active or a suspended organisation is a conflict, not a
    silent success (the operator sees what really happened)."""
    allowed_from, to = STATUS_ACTIONS.get(action, (set(), ""))
    if current not in allowed_from:
        raise StatusConflict(current=current, action=action)
    return to


def approval_warnings(admins: int, document_review: str | None) -> tuple[str, ...]:
    """Why approving an organisation may be premature (MISSION A1), for the operator to
    confirm explicitly: nobody could administer it, or its power of attorney, which
    shows who may act for it, is missing, not reviewed yet or rejected
    (``document_review``: the current document's review, None without one)."""
    found = []
    if admins == 0:
        found.append("no_admin")
    if document_review is None:
        found.append("no_document")
    elif document_review == "pending":
        found.append("document_not_reviewed")
    elif document_review != "accepted":
        found.append("document_rejected")
    return tuple(found)


def check_new_limit(used: int, limit: int | None, maximum: int = MAX_MEMBER_LIMIT) -> None:
    """A member or seat limit may not drop below what is already in use: the operator
    must first have the organisation remove people (nothing is revoked behind its back)."""
    if limit is None:
        return
    if not 1 <= limit <= maximum:
        raise LimitOutOfRange(used=used, limit=limit)
    if limit < used:
        raise LimitBelowUsage(used=used, limit=limit)


class InvalidScopeName(OrgError):
    code = "scope_name_invalid"


class ScopeExists(OrgError):
    code = "scope_exists"


SCOPE_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}:[a-z][a-z0-9_-]{0,31}")


def check_scope_name(name: str) -> str:
    """An organisation scope is ``application:right`` in lower case (e.g.
    ``einvoice:submit``), so it can never shadow ``openid``, ``profile`` and the like."""
    if not SCOPE_NAME.fullmatch(name or ""):
        raise InvalidScopeName(name=name)
    return name


class IdentifierTaken(OrgError):
    code = "identifier_taken"
