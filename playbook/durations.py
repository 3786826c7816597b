"""Playbook durations, and the one rule for adding one to a time.

The day part of a duration (`7d`, `P7D`, `P1W`, the `1D` of `P1DT2H`) is counted in calendar
days in the playbook's timezone: a `7d` follow-up declared on a Friday at 10:00 is due the next
Friday at 10:00 local time, also when the clocks changed in between. The rest (hours, minutes,
seconds: `36h`, `PT90M`, the `2H` of `P1DT2H`) is elapsed time: a step 15 minutes after the
declaration comes 15 real minutes later, also across the night the clocks change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from playbook.model import Duration

MAX_DAYS = 3660  # ten years: longer is a typing error, and would overflow a date
_SHORT = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_ISO = re.compile(
    r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
HINT = "use 90s, 30m, 1h, 7d or ISO 8601 such as PT1H"


def parse_duration(text: str) -> Duration:
    """`90s`, `30m`, `1h`, `36h`, `7d` or ISO 8601 (`PT1H`, `P7D`, `P1W`); ValueError otherwise."""
    value = text.strip()
    if len(value) > 40:
        raise ValueError(f"bad duration '{text[:40]}...': {HINT}")
    short = _SHORT.match(value)
    iso = _ISO.match(value.upper()) if value[:1] in "Pp" else None
    if short:
        number, unit = int(short.group(1)), short.group(2)
        days, seconds = (number, 0.0) if unit == "d" else (0, float(number * _UNIT_SECONDS[unit]))
    elif iso:
        weeks, day_part, hours, minutes, secs = iso.groups()
        days = int(weeks or 0) * 7 + int(day_part or 0)
        seconds = int(hours or 0) * 3600.0 + int(minutes or 0) * 60.0 + float(secs or 0)
    else:
        raise ValueError(f"bad duration '{text}': {HINT}")
    if days + seconds / 86400 > MAX_DAYS:
        raise ValueError(f"bad duration '{text}': longer than {MAX_DAYS} days")
    return Duration(days=days, elapsed=timedelta(seconds=seconds))


def due_after(start: datetime, duration: Duration, zone: str | tzinfo) -> datetime:
    """`start` plus `duration` (aware, in UTC): first its days, as calendar days in `zone`,
    then its elapsed rest.

    A day count keeps the wall-clock time of `start`. Where that time does not exist on the
    day reached (the hour skipped in spring) it is read with the offset before the change, so
    it falls that much later (02:30 becomes 03:30); where it exists twice (the hour repeated
    in autumn) the first is meant.
    """
    if duration.days:
        local = start.astimezone(_zone(zone))
        wall = local.replace(tzinfo=None, fold=0) + timedelta(days=duration.days)
        start = wall.replace(tzinfo=local.tzinfo)
    # in UTC: adding to a local time would add wall-clock time
    return start.astimezone(UTC) + duration.elapsed


def _zone(zone: str | tzinfo) -> tzinfo:
    return ZoneInfo(zone) if isinstance(zone, str) else zone
