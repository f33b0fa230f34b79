"""Dates for people (idp/dates.py): Thai with the Buddhist-era year (พ.ศ. = Gregorian +
543), English in Babel's medium format, both in the deployment's zone (issue 9)."""

from __future__ import annotations

from calendar import timegm
from zoneinfo import ZoneInfo

import pytest

from idp.dates import format_date, format_datetime, zone_label

BANGKOK = ZoneInfo("Asia/Bangkok")
UTC = ZoneInfo("UTC")


def utc(*fields: int) -> int:
    """Epoch seconds of a UTC wall-clock time (year, month, day, hour, minute)."""
    return timegm((*fields, 0))


def test_thai_uses_the_buddhist_era_and_a_24_hour_clock():
    at = utc(2026, 12, 1, 7, 5)  # 14:05 in Bangkok
    assert format_datetime(at, "th", BANGKOK) == "1 ธ.ค. 2569 14:05"
    assert format_date(at, "th", BANGKOK) == "1 ธ.ค. 2569"


def test_english_is_babels_medium_format_with_the_gregorian_year():
    at = utc(2026, 12, 1, 7, 5)
    assert format_datetime(at, "en", BANGKOK) == "Dec 1, 2026, 2:05:00\u202fPM"
    assert format_date(at, "en", BANGKOK) == "Dec 1, 2026"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 12, 31, 16, 59), "31 ธ.ค. 2569 23:59"),  # the last minute of 2569
        (utc(2026, 12, 31, 17, 0), "1 ม.ค. 2570 00:00"),  # the first of 2570
    ],
)
def test_the_buddhist_year_changes_at_bangkok_midnight(at, expected):
    assert format_datetime(at, "th", BANGKOK) == expected


def test_the_zone_shift_across_midnight_moves_the_day_month_and_year():
    """17:30 UTC on 31 December is already 00:30 on 1 January in Bangkok (UTC+7): the
    day, the month and the year all follow the zone, not UTC."""
    at = utc(2026, 12, 31, 17, 30)
    assert format_datetime(at, "th", UTC) == "31 ธ.ค. 2569 17:30"
    assert format_datetime(at, "th", BANGKOK) == "1 ม.ค. 2570 00:30"
    assert format_date(at, "th", UTC) == "31 ธ.ค. 2569"
    assert format_date(at, "th", BANGKOK) == "1 ม.ค. 2570"
    assert format_date(at, "en", UTC) == "Dec 31, 2026"
    assert format_date(at, "en", BANGKOK) == "Jan 1, 2027"


def test_every_thai_month_has_its_abbreviation():
    months = [format_date(utc(2026, m, 15, 5, 0), "th", BANGKOK).split()[1] for m in range(1, 13)]
    assert months == [
        "ม.ค.",
        "ก.พ.",
        "มี.ค.",
        "เม.ย.",
        "พ.ค.",
        "มิ.ย.",
        "ก.ค.",
        "ส.ค.",
        "ก.ย.",
        "ต.ค.",
        "พ.ย.",
        "ธ.ค.",
    ]


def test_leap_day_in_thai():
    assert format_date(utc(2028, 2, 29, 3, 0), "th", BANGKOK) == "29 ก.พ. 2571"


@pytest.mark.parametrize(
    ("zone", "at", "label"),
    [
        ("Asia/Bangkok", utc(2026, 12, 1, 0, 0), "Asia/Bangkok, UTC+07:00"),
        ("UTC", utc(2026, 12, 1, 0, 0), "UTC, UTC+00:00"),
        ("Asia/Kolkata", utc(2026, 12, 1, 0, 0), "Asia/Kolkata, UTC+05:30"),
        ("America/New_York", utc(2026, 1, 15, 0, 0), "America/New_York, UTC-05:00"),
        ("America/New_York", utc(2026, 7, 15, 0, 0), "America/New_York, UTC-04:00"),  # summer
    ],
)
def test_zone_label_names_the_zone_and_its_offset_then(zone, at, label):
    assert zone_label(ZoneInfo(zone), at) == label
