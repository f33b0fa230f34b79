"""The registration wizard's pure rules (issue 10 "People"): which steps, where back
and forward may go, and the checks of steps 1 and 3 (SECURITY.md R-01)."""

from __future__ import annotations

from datetime import date

import pytest

from idp.enrollment import wizard
from idp.enrollment.wizard import DetailsInput, IdentityInput, Plan

TODAY = date(2027, 1, 15)
AGENCIES = frozenset({"moc-ops"})


def _identity(**kw) -> IdentityInput:
    base = {
        "member_type": "public",
        "agency": "",
        "document_kind": "national_id",
        "national_id": "1101700203450",
        "passport_number": "",
        "nationality": "",
        "passport_expiry": "",
        "email": "a@example.org",
        "notice_accepted": True,
    }
    return IdentityInput(**{**base, **kw})


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan(), ("identity", "prove", "details")),
        (Plan(needs_waiting=True), ("identity", "prove", "details", "waiting")),
        (Plan(needs_second_factor=True), ("identity", "prove", "details", "second_factor")),
        (Plan(True, True), wizard.ORDER),
    ],
)
def test_steps_shown_depend_on_the_plan(plan, expected):
    assert wizard.steps(plan) == expected


def test_back_is_allowed_forward_only_once_reached():
    assert wizard.may_enter("details", "identity") and wizard.may_enter("prove", "prove")
    assert not wizard.may_enter("identity", "details")
    assert wizard.later("identity", "identity") == "prove"
    assert wizard.later("details", "identity") == "details"  # a revisit never moves back


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"national_id": "1101700203451"}, "national_id", "national_id_check_digit"),
        ({"national_id": "110170020345"}, "national_id", "national_id_format"),
        ({"member_type": "staff", "agency": "nope"}, "agency", "agency"),
        ({"member_type": "boss"}, "member_type", "member_type"),
        ({"email": "not-an-address"}, "email", "email_invalid"),
        ({"notice_accepted": False}, "notice", "notice"),
        (
            {
                "document_kind": "passport",
                "passport_number": "AB123456",
                "nationality": "GB",
                "passport_expiry": "2026-12-31",
            },
            "passport_expiry",
            "passport_expired",
        ),
    ],
)
def test_step1_refusals_name_the_field_r01(changes, field, code):
    choice, errors = wizard.check_identity(_identity(**changes), AGENCIES, TODAY)
    assert choice is None and (field, code) in errors


def test_step1_accepts_a_staff_member_and_normalises_the_id():
    choice, errors = wizard.check_identity(
        _identity(member_type="staff", agency="moc-ops", national_id="1-1017-00203-45-0"),
        AGENCIES,
        TODAY,
    )
    assert errors == [] and choice.document.number == "1101700203450"
    assert choice.agency == "moc-ops"


def _details(**kw) -> DetailsInput:
    base = {
        "given_name_th": "สมชาย",
        "family_name_th": "ใจดี",
        "given_name_en": "Somchai",
        "family_name_en": "Jaidee",
        "gender": "male",
        "birthdate": "1985-04-12",
        "mobile": "081-234-5678",
        "position": "",
        "code": "123456",
        "password": "a long passphrase",
        "password_confirm": "a long passphrase",
    }
    return DetailsInput(**{**base, **kw})


def test_step3_cleans_the_details():
    data, errors = wizard.check_details(_details(), staff=False, today=TODAY)
    assert errors == [] and data["mobile"] == "0812345678"


@pytest.mark.parametrize(
    ("changes", "staff", "error"),
    [
        ({"given_name_th": " "}, False, ("given_name_th", "required")),
        ({"birthdate": "2030-01-01"}, False, ("birthdate", "birthdate")),
        ({"mobile": "12"}, False, ("mobile", "mobile")),
        ({"code": "12345"}, False, ("code", "code_format")),
        ({"password_confirm": "other"}, False, ("password_confirm", "password_mismatch")),
        ({}, True, ("position", "required")),
        ({"gender": "robot"}, False, ("gender", "required")),
    ],
)
def test_step3_refusals(changes, staff, error):
    _data, errors = wizard.check_details(_details(**changes), staff=staff, today=TODAY)
    assert error in errors
