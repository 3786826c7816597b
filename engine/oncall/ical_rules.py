"""Limits on an iCalendar RRULE before it is expanded: a roster recurs by the hour at most.

Expansion walks a rule from its DTSTART; a rule that yields thousands of times a day, or that
started ages before the window at a high rate, would fill memory or run for minutes. Such rules
are refused with a reason instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from engine.oncall.times import FIRST_YEAR, LAST_YEAR

MAX_PER_DAY = 24  # occurrences a rule may yield in one day: an hourly rota at most
MAX_STEPS = 2_000_000  # periods a rule may walk from its DTSTART to the window's end
_PERIODS_PER_DAY = {"SECONDLY": 86400, "MINUTELY": 1440, "HOURLY": 24}
_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_PARTS = {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
          "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}  # RFC 5545


def rule_problems(recur: Any) -> list[str]:
    """What is wrong with one RRULE value (an icalendar vRecur) before it is expanded."""
    unknown = sorted(str(k) for k in recur if str(k).upper() not in _PARTS)
    if unknown:
        return [f"RRULE: unknown part {unknown[0][:20]} / onbekend onderdeel"]
    freq = _one(recur, "FREQ")
    if freq is None or str(freq).upper() not in _FREQUENCIES:
        return ["RRULE: FREQ missing or unknown / FREQ ontbreekt of is onbekend"]
    problems: list[str] = []
    count = _one(recur, "COUNT")
    if count is not None and (not isinstance(count, int) or count < 1):
        problems.append(f"RRULE: COUNT={count} is not a positive number / COUNT moet positief zijn")
    interval = _one(recur, "INTERVAL")
    if interval is not None and (not isinstance(interval, int) or interval < 1):
        problems.append(
            f"RRULE: INTERVAL={interval} is not a positive number / INTERVAL moet positief zijn"
        )
    elif per_day(recur) > MAX_PER_DAY:
        problems.append(f"RRULE: more than {MAX_PER_DAY} occurrences a day is not a roster"
                        f" / meer dan {MAX_PER_DAY} keer per dag is geen rooster")
    return problems


def per_day(recur: Any) -> float:
    """An upper bound of the occurrences the rule yields in one day."""
    freq = str(_one(recur, "FREQ")).upper()
    interval = _one(recur, "INTERVAL") or 1
    hours, minutes, seconds = (len(recur.get(k) or [0]) for k in ("BYHOUR", "BYMINUTE", "BYSECOND"))
    if freq == "SECONDLY":
        return 86400 / interval
    if freq == "MINUTELY":
        return 1440 / interval * seconds
    if freq == "HOURLY":
        return 24 / interval * minutes * seconds
    return hours * minutes * seconds


def walk_problem(recur: Any, start: datetime, end: datetime) -> str | None:
    """A problem when walking the rule from `start` (its DTSTART) to `end` takes too long."""
    freq = str(_one(recur, "FREQ")).upper()
    periods = _PERIODS_PER_DAY.get(freq, 1) / (_one(recur, "INTERVAL") or 1)
    days = max((end - start).total_seconds() / 86400, 0)
    if days * max(periods, per_day(recur)) <= MAX_STEPS:
        return None
    return ("RRULE: starts too long before the window for its frequency; move DTSTART closer"
            " / begint te lang voor het venster, verplaats DTSTART")


def align_until(recur: Any, start: date, zone: tzinfo) -> None:
    """Give UNTIL the form of DTSTART, as RFC 5545 asks and the expansion needs.

    A date UNTIL of a timed series includes that whole day; a floating UNTIL of a zoned series
    is in the series' zone, a UTC UNTIL of a floating series in the calendar's `zone`.
    """
    until = _one(recur, "UNTIL")
    if until is not None and until.year > LAST_YEAR:  # "until forever" (9999): the window ends it
        del recur["UNTIL"]
        return
    if until is None or not isinstance(start, datetime):
        return
    if until.year < FIRST_YEAR:
        until = until.replace(year=FIRST_YEAR)
    if not isinstance(until, datetime):
        until = datetime.combine(until, time(23, 59, 59))
    if start.tzinfo is not None:
        if until.tzinfo is None:
            until = until.replace(tzinfo=start.tzinfo)
        recur["UNTIL"] = [until.astimezone(UTC)]
    elif until.tzinfo is not None:
        recur["UNTIL"] = [until.astimezone(zone).replace(tzinfo=None)]
    else:
        recur["UNTIL"] = [until]


def _one(recur: Any, key: str) -> Any:
    values = recur.get(key)
    if not values:
        return None
    return values[0] if isinstance(values, list) else values
