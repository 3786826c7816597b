"""Local times of the roster: strict reading, and the wall-clock times a DST change skips or
repeats.

Local times (CSV `YYYY-MM-DD HH:MM`, floating and all-day iCalendar values) are in
Europe/Amsterdam unless a calendar names its own zone; everything is stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar.timezone import tzid_from_tzinfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

Trouble = Literal["skipped", "repeated"]
FIRST_YEAR, LAST_YEAR = 1900, 2200  # a roster's times; beyond them date arithmetic overflows


def local_label(value: datetime) -> str:
    """A time as people read it: `YYYY-MM-DD HH:MM +01:00` in Europe/Amsterdam (the offset,
    not an abbreviation, as every other time printed for people)."""
    local = value.astimezone(AMSTERDAM)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def year_problem(value: date) -> str | None:
    """Why a date or time is outside the years a roster may name, or None."""
    if FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return (f"year {value.year} outside {FIRST_YEAR}-{LAST_YEAR}"
            f" / jaar buiten {FIRST_YEAR}-{LAST_YEAR}")


def parse_time(text: str) -> datetime:
    """ISO 8601 with offset, or local `YYYY-MM-DD HH:MM` in Europe/Amsterdam, as aware UTC."""
    text = text.strip()
    if not _TIME_SHAPE.match(text):
        raise ValueError(
            f"not a time: {text!r} (expected ISO 8601 with offset, or 'YYYY-MM-DD HH:MM' "
            "Europe/Amsterdam / verwacht ISO 8601 of 'JJJJ-MM-DD UU:MM')"
        )
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a valid time: {text!r} / geen geldige tijd") from None
    problem = year_problem(value)
    if problem:
        raise ValueError(f"{text!r}: {problem}")
    if value.tzinfo is None:
        return localise_strict(value)
    return value.astimezone(UTC)


def localise_strict(wall: datetime, zone: tzinfo = AMSTERDAM) -> datetime:
    """Wall-clock time in `zone` as UTC; refuse times that the DST change skips or repeats."""
    problem = year_problem(wall)
    if problem:
        raise ValueError(problem)
    utc, trouble = place(wall.replace(tzinfo=zone))
    if trouble is None:
        return utc
    raise ValueError(describe(wall, zone, trouble, "give an offset", "geef een offset"))


def place(value: datetime) -> tuple[datetime, Trouble | None]:
    """An aware time in UTC as RFC 5545 reads it, and whether a DST change skips or repeats
    its wall clock: a skipped time moves forward by the gap, a repeated one is the first.

    Works for any tzinfo (zoneinfo, or one icalendar built from a VTIMEZONE), whatever it
    answers for a time in a gap.
    """
    zone = value.tzinfo
    if isinstance(zone, ZoneInfo | timezone) and (
        value.replace(fold=0).utcoffset() == value.replace(fold=1).utcoffset()
    ):  # zoneinfo answers two offsets for a skipped or repeated time: one means neither
        return value.astimezone(UTC), None
    wall = value.replace(tzinfo=None)
    candidates = {value.replace(fold=fold).astimezone(UTC) for fold in (0, 1)}
    real = sorted(c for c in candidates if c.astimezone(zone).replace(tzinfo=None) == wall)
    if not real:
        before = (wall - timedelta(days=1)).replace(tzinfo=zone).utcoffset() or timedelta(0)
        return (wall - before).replace(tzinfo=UTC), "skipped"
    return real[0], ("repeated" if len(real) > 1 else None)


def zone_name(zone: tzinfo | None) -> str:
    """A zone's TZID: its IANA key, or the name a calendar's VTIMEZONE gave it."""
    return str(tzid_from_tzinfo(zone) or zone)


def describe(wall: datetime, zone: tzinfo | None, trouble: Trouble, advice: str,
             advies: str) -> str:
    """`2026-03-29 02:30 does not exist in Europe/Amsterdam (clocks go forward); ADVICE / ...`."""
    shown = wall.strftime("%Y-%m-%d %H:%M")
    if trouble == "skipped":
        return (f"{shown} does not exist in {zone_name(zone)} (clocks go forward); {advice}"
                f" / bestaat niet (zomertijd), {advies}")
    return (f"{shown} occurs twice in {zone_name(zone)} (clocks go back); {advice}"
            f" / komt twee keer voor (wintertijd), {advies}")
