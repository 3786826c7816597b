"""Local times of the roster: strict reading, and the wall-clock times a DST change skips or
repeats.

Local times (CSV `YYYY-MM-DD HH:MM`, floating and all-day iCalendar values) are in
Europe/Amsterdam unless a calendar names its own zone; everything is stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

Trouble = Literal["skipped", "repeated"]


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
    if value.tzinfo is None:
        return localise_strict(value)
    return value.astimezone(UTC)


def localise_strict(wall: datetime, zone: tzinfo = AMSTERDAM) -> datetime:
    """Wall-clock time in `zone` as UTC; refuse times that the DST change skips or repeats."""
    trouble = dst_trouble(wall.replace(tzinfo=zone))
    if trouble is None:
        return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    raise ValueError(describe(wall, zone, trouble, "give an offset", "geef een offset"))


def dst_trouble(value: datetime) -> Trouble | None:
    """Whether an aware time's wall clock is skipped or repeated by a DST change in its zone."""
    early, late = value.replace(fold=0), value.replace(fold=1)
    if early.utcoffset() == late.utcoffset():
        return None
    zone = value.tzinfo
    wall = value.replace(tzinfo=None)
    round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return "skipped" if round_trip != wall else "repeated"


def zone_name(zone: tzinfo | None) -> str:
    """A zone's IANA key where it has one, else its own name."""
    key = getattr(zone, "key", None)
    return str(key) if key else str(zone)


def describe(wall: datetime, zone: tzinfo | None, trouble: Trouble, advice: str,
             advies: str) -> str:
    """`2026-03-29 02:30 does not exist in Europe/Amsterdam (clocks go forward); ADVICE / ...`."""
    shown = wall.strftime("%Y-%m-%d %H:%M")
    if trouble == "skipped":
        return (f"{shown} does not exist in {zone_name(zone)} (clocks go forward); {advice}"
                f" / bestaat niet (zomertijd), {advies}")
    return (f"{shown} occurs twice in {zone_name(zone)} (clocks go back); {advice}"
            f" / komt twee keer voor (wintertijd), {advies}")
