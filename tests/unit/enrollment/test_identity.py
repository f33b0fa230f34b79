"""Identity documents (MISSION A6, B1; SECURITY.md R-01): check digits, passports,
masking."""

from __future__ import annotations

from datetime import date

import pytest

from idp.enrollment.identity import (
    DocumentInvalid,
    check_juristic_id,
    check_national_id,
    check_passport,
    countries,
    mask,
    thai_id_check_digit,
    thai_id_is_valid,
)

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    "value, valid",
    [
        ("1101700230708", True),
        ("1101700203450", True),
        ("0105536092641", True),  # a juristic ID: same algorithm
        ("1101700230706", False),  # last digit altered
        ("1101700230780", False),  # two digits swapped
        ("110170023070", False),  # 12 digits
        ("11017002307081", False),  # 14 digits
        ("11017OO230708", False),  # letters
        ("", False),
    ],
)
def test_thai_id_check_digit_R01(value, valid):
    assert thai_id_is_valid(value) is valid


def test_any_other_last_digit_is_refused_R01():
    # The check digit is mod 11 folded into 0-9, so it cannot catch every typo in the
    # first twelve (weight 11 of the third digit), but exactly one last digit fits.
    good = "1101700230708"
    assert [d for d in "0123456789" if thai_id_is_valid(good[:12] + d)] == ["8"]


def test_check_digit_completes_twelve_digits():
    assert thai_id_check_digit("110170023070") == "8"


@pytest.mark.parametrize("typed", ["1-1017-00230-70-8", " 1101700230708 ", "๑๑๐๑๗๐๐๒๓๐๗๐๘"])
def test_national_id_accepts_the_ways_people_type_it(typed):
    assert check_national_id(typed).number == "1101700230708"


@pytest.mark.parametrize(
    "typed, code",
    [
        ("1101700230706", "national_id_check_digit"),
        ("12345", "national_id_format"),
        ("", "national_id_format"),
    ],
)
def test_national_id_errors_name_the_field(typed, code):
    with pytest.raises(DocumentInvalid) as err:
        check_national_id(typed)
    assert (err.value.code, err.value.field) == (code, "national_id")


def test_juristic_id_check_digit():
    assert check_juristic_id("0105536092641") == "0105536092641"
    with pytest.raises(DocumentInvalid) as err:
        check_juristic_id("0105536092642")
    assert err.value.code == "juristic_id_check_digit"


def test_passport_needs_iso_nationality_and_a_future_expiry_A6():
    doc = check_passport("tk 1234567", "jp", date(2030, 1, 1), TODAY)
    assert (doc.kind, doc.number, doc.nationality) == ("passport", "TK1234567", "JP")
    cases = [
        (("TK1", "JP", date(2030, 1, 1)), "passport_format"),
        (("TK1234567", "XX", date(2030, 1, 1)), "nationality_unknown"),
        (("TK1234567", "TH", date(2030, 1, 1)), "nationality_thai_use_id"),
        (("TK1234567", "JP", None), "passport_expiry_missing"),
        (("TK1234567", "JP", TODAY), "passport_expired"),
    ]
    for args, code in cases:
        with pytest.raises(DocumentInvalid) as err:
            check_passport(*args, TODAY)
        assert err.value.code == code


def test_countries_are_iso_3166_alpha_2():
    assert {"TH", "JP", "US", "MM", "LA"} <= countries()
    assert "ZZ" not in countries() and all(len(c) == 2 for c in countries())


def test_masking_keeps_only_the_check_digit_X06():
    assert mask("national_id", "1101700230708") == "x-xxxx-xxxxx-xx-8"
    assert mask("passport", "TK1234567") == "xxxxxxx67"
