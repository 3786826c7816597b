"""Expanding checked VEVENTs into shifts with `recurring-ical-events`.

The library expands RRULE, RDATE (dates, times, periods with their own length), EXDATE and
RECURRENCE-ID overrides, RANGE=THISANDFUTURE included, and keeps the highest SEQUENCE per
instance. Through its extension points (an adapter, an occurrence and a series class of our own)
each occurrence keeps the VEVENT it comes from, so that it carries that event's staff member
and status, and an override older than a newer series for an instance that series no longer
has is left out. Times are then placed in UTC: floating times that a DST change skips or
repeats are refused, zoned ones warned about (see `ical_source`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from recurring_ical_events import EventAdapter, InvalidCalendar, Occurrence, Series

from engine.oncall.ical_rules import walk_problem
from engine.oncall.model import ParsedRoster, ShiftData, shown
from engine.oncall.times import Trouble, describe, place

MAX_OCCURRENCES = 5000  # per UID in the window: a runaway series must not fill the table
_PAD = timedelta(days=2)  # floating and all-day times are compared before they are placed


class ShiftAdapter(EventAdapter):
    """A VEVENT with the staff member who holds its shifts, and whether it was cancelled."""

    def __init__(self, component: Any, uid: str, staff_id: str, cancelled: bool) -> None:
        super().__init__(component)
        self.event = component
        self.series_uid = uid
        self.staff_id = staff_id
        self.cancelled = cancelled

    @property
    def recurrence_rules(self) -> list[Any]:
        """The RRULE values (icalendar vRecur), checked by `ical_rules`."""
        rules = self.event.get("RRULE")
        return [] if rules is None else rules if isinstance(rules, list) else [rules]

    @property
    def recurs(self) -> bool:
        """A series of its own (RRULE or RDATE), not an override of another's instance."""
        return not self.is_modification() and bool(self.rrules or self.rdates)


class _ShiftOccurrence(Occurrence):
    """One occurrence that remembers the VEVENT whose staff and status it carries."""

    def __init__(self, adapter: ShiftAdapter, start: Any = None, end: Any = None,
                 sequence: int = -1) -> None:
        super().__init__(adapter, start, end, sequence)
        self.source = adapter


class _ShiftSeries(Series):
    """One UID's VEVENTs; an override older than a newer series for an instance that series
    no longer has is left out (the newer version deleted it)."""

    def occurrence(self, adapter: Any, start: Any = None, end: Any = None) -> Occurrence:
        """Occurrences that keep their source."""
        return _ShiftOccurrence(adapter, start, end)

    def skip_core_modification(self, modification: Any) -> bool:
        """Whether an override is obsolete."""
        if self.recurrence.has_core and modification.sequence < self.recurrence.sequence:
            return bool(self.has_recurrence_id_in_rrule(modification))
        return bool(super().skip_core_modification(modification))


def instant(value: Any, zone: tzinfo) -> datetime:
    """A date, floating or zoned time as UTC (floating in `zone`), read as RFC 5545 says."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return place(value)[0]


def expand_shifts(parsed: ParsedRoster, adapters: list[ShiftAdapter], zone: tzinfo) -> None:
    """Add the shifts of the checked events that start in the window, or the problems."""
    lo, hi = parsed.window_from, parsed.window_until
    assert lo is not None and hi is not None
    by_uid: dict[str, list[ShiftAdapter]] = defaultdict(list)
    for adapter in adapters:
        by_uid[adapter.series_uid].append(adapter)
    outside = sum(
        1 for a in adapters
        if not a.recurs and not a.cancelled and not lo <= instant(a.start, zone) < hi
    )
    for uid, group in by_uid.items():
        try:
            _expand_series(parsed, shown(uid), group, zone)
        except (InvalidCalendar, ValueError, TypeError) as exc:
            parsed.problems.append(
                f"{parsed.path}:{shown(uid)}: cannot expand / kan niet: {shown(str(exc), 200)}")
    if outside:
        parsed.warnings.append(
            f"{parsed.path}: {outside} shift(s) outside the window left out"
            " / dienst(en) buiten het venster overgeslagen"
        )


def _expand_series(
    parsed: ParsedRoster, label: str, group: list[ShiftAdapter], zone: tzinfo
) -> None:
    lo, hi = parsed.window_from, parsed.window_until
    assert lo is not None and hi is not None
    for adapter in group:
        for recur in adapter.recurrence_rules:
            problem = walk_problem(recur, instant(adapter.start, zone), hi)
            if problem:
                parsed.problems.append(f"{parsed.path}:{label}: {problem}")
                return
    series = _ShiftSeries(group)
    timing = _Timing(parsed, label, zone)
    count = 0
    for occurrence in series.between(lo - _PAD, hi + _PAD):
        start = timing.start(occurrence)
        if not lo <= start.utc < hi:
            continue
        count += 1
        if count > MAX_OCCURRENCES:
            parsed.problems.append(
                f"{parsed.path}:{label}: RRULE: more than {MAX_OCCURRENCES} occurrences in the"
                " window / te veel herhalingen"
            )
            return
        shift = timing.shift(occurrence, start)
        if shift is not None:
            parsed.shifts.append(shift)
    timing.report()


class _Placed(NamedTuple):
    """A time as written (floating or zoned) and where it falls in UTC."""

    utc: datetime
    written: datetime
    floating: bool
    trouble: Trouble | None


class _Timing:
    """Places occurrences in UTC; refuses floating times a DST change skips or repeats, and
    collects one warning per UID for such times with a TZID."""

    def __init__(self, parsed: ParsedRoster, label: str, zone: tzinfo) -> None:
        self.parsed, self.label, self.zone = parsed, label, zone
        self.refused = False
        self.moved: list[tuple[datetime, tzinfo | None, Trouble]] = []

    def start(self, occurrence: _ShiftOccurrence) -> _Placed:
        """Where the occurrence starts in UTC, and whether a DST change troubles it."""
        return self._placed(occurrence.start)

    def shift(self, occurrence: _ShiftOccurrence, start: _Placed) -> ShiftData | None:
        """The occurrence as a shift in UTC, or None when it is cancelled or refused."""
        if occurrence.source.cancelled:
            return None
        end = self._placed(occurrence.end)
        if not (self._accept(start, "DTSTART") and self._accept(end, "DTEND")):
            return None
        return ShiftData(start.utc, end.utc, occurrence.source.staff_id)

    def _placed(self, value: Any) -> _Placed:
        floating = not isinstance(value, datetime) or value.tzinfo is None
        if not isinstance(value, datetime):
            value = datetime.combine(value, time(0))
        utc, trouble = place(value.replace(tzinfo=self.zone) if floating else value)
        return _Placed(utc, value, floating, trouble)

    def _accept(self, placed: _Placed, prop: str) -> bool:
        if placed.trouble is None:
            return True
        if placed.floating:
            self._refuse(prop, placed.written, placed.trouble)
            return False
        self.moved.append((placed.written.replace(tzinfo=None), placed.written.tzinfo,
                           placed.trouble))
        return True

    def _refuse(self, prop: str, wall: datetime, trouble: Trouble) -> None:
        if not self.refused:
            self.refused = True
            self.parsed.problems.append(
                f"{self.parsed.path}:{self.label}: {prop}: "
                + describe(wall, self.zone, trouble, "give a TZID or a UTC time",
                           "geef een TZID of een UTC-tijd")
            )

    def report(self) -> None:
        """Warn once for the times with a TZID that a DST change moved."""
        if not self.moved:
            return
        wall, zone, trouble = self.moved[0]
        more = f" (and {len(self.moved) - 1} more / en meer)" if len(self.moved) > 1 else ""
        self.parsed.warnings.append(
            f"{self.parsed.path}:{self.label}: "
            + describe(wall, zone, trouble, "read as RFC 5545 says: a skipped time moves"
                       " forward by the gap, a repeated time is the first",
                       "gelezen volgens RFC 5545")
            + more
        )
