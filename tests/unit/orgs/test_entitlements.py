"""Organisation rules (pure): MISSION A1, A3, A4; SECURITY.md E-05."""

from __future__ import annotations

import pytest

from idp.orgs import entitlements as rules
from idp.orgs.entitlements import (
    InvalidIdentifier,
    LastAdmin,
    MemberLimitReached,
    SeatLimitReached,
    check_admin_change,
    check_identifier,
    check_member_limit,
    check_seat,
    effective_scopes,
    juristic_id_is_valid,
)


@pytest.mark.parametrize(
    "value,ok",
    [
        ("0105536092641", True),  # a well-formed juristic ID
        ("0105536092642", False),  # one digit altered: checksum fails
        ("010553609264", False),  # 12 digits
        ("01055360926411", False),
        ("010553609264a", False),
        ("", False),
    ],
)
def test_juristic_id_checksum(value, ok):
    assert juristic_id_is_valid(value) is ok


def test_identifier_rules_by_kind():
    assert check_identifier("company", " 0105536092641 ") == "0105536092641"
    assert check_identifier("agency", "MOC-01") == "MOC-01"
    for kind, value in (("company", "0105536092642"), ("agency", "x"), ("club", "ABC")):
        with pytest.raises(InvalidIdentifier):
            check_identifier(kind, value)


def test_member_limit_A4():
    check_member_limit(9, 10)
    with pytest.raises(MemberLimitReached):
        check_member_limit(10, 10)


def test_seat_limit_A4():
    check_seat(2, 3)
    check_seat(100, None)
    with pytest.raises(SeatLimitReached):
        check_seat(3, 3)


@pytest.mark.parametrize(
    "admins,target_admin,demoting,refused",
    [
        (1, True, True, True),  # the last admin cannot leave or drop the right
        (2, True, True, False),
        (1, False, True, False),
        (1, True, False, False),
    ],
)
def test_last_admin_rule_A3(admins, target_admin, demoting, refused):
    if refused:
        with pytest.raises(LastAdmin):
            check_admin_change(admins, target_admin, demoting)
    else:
        check_admin_change(admins, target_admin, demoting)


def test_tokens_carry_only_held_client_scopes_E05():
    requested = ["openid", "email", "einvoice:submit", "einvoice:view"]
    declared = {"einvoice:submit", "einvoice:view"}
    assert effective_scopes(requested, declared, {"einvoice:view"}) == [
        "openid",
        "email",
        "einvoice:view",
    ]


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        ("pending", "approve", "active"),
        ("pending", "suspend", "suspended"),
        ("active", "suspend", "suspended"),
        ("suspended", "reactivate", "active"),
    ],
)
def test_operator_status_transitions(current, action, expected):
    assert rules.next_status(current, action) == expected


@pytest.mark.parametrize(
    ("current", "action"),
    [("active", "approve"), ("suspended", "approve"), ("active", "reactivate"), ("x", "delete")],
)
def test_status_change_that_does_not_apply_is_a_conflict(current, action):
    with pytest.raises(rules.StatusConflict):
        rules.next_status(current, action)


@pytest.mark.parametrize(("used", "limit"), [(3, 2), (0, 0), (0, -1), (0, 10_001)])
def test_new_limit_below_usage_or_out_of_range_is_refused(used, limit):
    with pytest.raises(rules.LimitBelowUsage):
        rules.check_new_limit(used, limit)


@pytest.mark.parametrize(("used", "limit"), [(3, 3), (0, 1), (5, None)])
def test_new_limit_at_or_above_usage_is_fine(used, limit):
    rules.check_new_limit(used, limit)


FACTS = rules.OrgFacts(
    frozenset({"einvoice:submit", "einvoice:view"}),
    (1, 2),
    {1: frozenset({"einvoice:view"}), 2: frozenset()},
    remembered=None,
)
REQUESTED = ["openid", "einvoice:submit", "einvoice:view"]


@pytest.mark.parametrize(
    ("facts", "chosen", "kind", "org_id", "scope"),
    [
        (rules.OrgFacts(frozenset()), None, "none", None, tuple(REQUESTED)),
        (rules.OrgFacts(FACTS.declared), None, "deny", None, ()),  # member of no org
        (FACTS, None, "select", None, ()),
        (FACTS, 1, "ok", 1, ("openid", "einvoice:view")),
        (FACTS, 2, "deny", 2, ()),  # a member, but holds none of the client's scopes
        (FACTS, 99, "select", None, ()),  # a choice that is not a candidate is ignored
        (
            rules.OrgFacts(FACTS.declared, (1,), FACTS.held),
            None,
            "ok",
            1,
            ("openid", "einvoice:view"),
        ),
    ],
)
def test_choose_org_A2_A4_E05(facts, chosen, kind, org_id, scope):
    choice = rules.choose_org(facts, REQUESTED, chosen)
    assert (choice.kind, choice.org_id, choice.scope) == (kind, org_id, scope)


def test_remembered_org_is_used_unless_asked_again():
    facts = rules.OrgFacts(FACTS.declared, FACTS.candidates, FACTS.held, remembered=1)
    assert rules.choose_org(facts, REQUESTED, None).org_id == 1
    assert rules.choose_org(facts, REQUESTED, None, use_remembered=False).kind == "select"


def test_refresh_for_an_org_no_longer_a_candidate_is_denied():
    assert rules.scopes_for(FACTS, 3, REQUESTED).kind == "deny"


@pytest.mark.parametrize(
    ("by_operator", "actor_is_admin", "target_is_admin", "is_self", "admins", "allowed"),
    [
        (False, True, True, False, 2, True),  # another admin, two admins
        (False, True, True, False, 5, True),
        (False, True, False, False, 2, False),  # a member's email: not through A7
        (False, False, True, False, 2, False),  # a plain member may not
        (False, True, True, False, 1, False),  # a single admin asks the operator
        (False, True, True, True, 2, False),  # one's own: the self-service change (M-11)
        (True, False, True, False, 1, True),  # the operator, for an only admin
        (True, False, True, False, 3, True),
        (True, False, False, False, 1, False),  # the operator, a non-admin member
        (True, True, True, True, 2, False),  # the operator, their own email
    ],
)
def test_who_may_change_an_admins_email_A7(
    by_operator, actor_is_admin, target_is_admin, is_self, admins, allowed
):
    """MISSION A7; SECURITY.md M-11: nobody skips the code to a new address of their own."""
    assert (
        rules.may_change_admin_email(
            by_operator=by_operator,
            actor_is_admin=actor_is_admin,
            target_is_admin=target_is_admin,
            is_self=is_self,
            admins=admins,
        )
        is allowed
    )
