"""Dates for people: Thai with the Buddhist-era year, English in Babel's medium format.

Pure: epoch seconds, a language and a time zone in, text out (no Flask, no database).
Pages (the ``datetime`` and ``date`` Jinja filters, idp/web.py), mails and the audit
CSV's human column all go through here; machine fields (tokens, the CSV's ``when_utc``)
stay ISO 8601 / epoch seconds.

Why not Babel for Thai: Babel formats the Gregorian calendar only (CLDR has a Buddhist
calendar, but ``babel.dates`` offers no way to choose it), so its Thai medium format
says "1 ธ.ค. 2026 14:05:00". Thai readers, and every Thai government form, count years
in the Buddhist era (พ.ศ. = Gregorian + 543), so the Thai form is built here from CLDR's
abbreviated Thai month names: "1 ธ.ค. 2569 14:05".
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime

BUDDHIST_ERA_OFFSET = 543
THAI_MONTHS = (
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
)


def local_time(epoch: int, zone: tzinfo) -> datetime:
    """The moment ``epoch`` (seconds, UTC) as a wall-clock time in ``zone``."""
    return datetime.fromtimestamp(epoch, zone)


def _thai_date(at: datetime) -> str:
    return f"{at.day} {THAI_MONTHS[at.month - 1]} {at.year + BUDDHIST_ERA_OFFSET}"


def format_datetime(epoch: int, locale: str, zone: tzinfo) -> str:
    """Date and time: th "1 ธ.ค. 2569 14:05" (24-hour clock, Buddhist era), otherwise
    Babel's medium format for ``locale`` ("Dec 1, 2026, 2:05:00 PM")."""
    at = local_time(epoch, zone)
    if locale == "th":
        return f"{_thai_date(at)} {at:%H:%M}"
    return babel_format_datetime(at, "medium", tzinfo=zone, locale=locale)


def format_date(epoch: int, locale: str, zone: tzinfo) -> str:
    """The date alone, in ``zone``: th "1 ธ.ค. 2569", en "Dec 1, 2026"."""
    at = local_time(epoch, zone)
    if locale == "th":
        return _thai_date(at)
    return babel_format_date(at.date(), "medium", locale=locale)


def zone_label(zone: tzinfo, epoch: int) -> str:
    """The zone as people can check it: "Asia/Bangkok, UTC+07:00" (the offset at
    ``epoch``, so a zone with summer time says which one applied)."""
    offset = local_time(epoch, zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    name = getattr(zone, "key", None) or str(zone)
    return f"{name}, UTC{sign}{hours:02d}:{rest:02d}"
