"""iCalendar roster files: every VEVENT is a shift or a series of shifts.

Who holds a shift: X-VERBINDER-STAFF, else an ATTENDEE's email, else SUMMARY = staff id, else
the ORGANIZER's email (`ical_staff`).

The window runs from the first event's start for 90 days (or up to the latest end of a single,
non-recurring event, when later); `replace_from` / `replace_until` set it. Occurrences that
start in it are imported.

Recurrence (RRULE, RDATE with dates, times or periods, EXDATE, RECURRENCE-ID overrides with or
without RANGE=THISANDFUTURE) is expanded by `recurring-ical-events` (`ical_expand`). Around it:

- keeps, per UID and RECURRENCE-ID, the version with the highest SEQUENCE; two different
  versions with the same SEQUENCE refuse the file (identical copies count once);
- leaves out an override older (by SEQUENCE) than its series for an instance that the newer
  series no longer has;
- reads a date-time RECURRENCE-ID of an all-day series (Outlook writes them) as that day;
- refuses COUNT below 1, rules that recur more than 24 times a day, zero-length and reversed
  events and periods;
- leaves out STATUS:CANCELLED events, instances and, after a RANGE=THISANDFUTURE override,
  the rest of a series.

Time zones: a TZID value is in its zone and a UTC value in UTC. A floating value (neither TZID
nor Z) and an all-day date are in the calendar's zone: X-WR-TIMEZONE when the calendar names
one, else Europe/Amsterdam. With X-WR-TIMEZONE, UTC values are read as that zone's local time
too (Google Calendar's meaning, as `recurring-ical-events` and `x-wr-timezone` read it), so a
weekly series written in UTC keeps its local hour across the DST change. A floating time that
a DST change skips or repeats is refused, as in CSV; such a time with a TZID is read as
RFC 5545 says (a skipped time moves forward by the gap, a repeated one is the first) and
warned about.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.prop import vDDDTypes
from x_wr_timezone import CalendarWalker

from engine.oncall.ical_expand import ShiftAdapter, expand_shifts, instant
from engine.oncall.ical_rules import align_until, rule_problems
from engine.oncall.ical_staff import EventError, find_staff
from engine.oncall.model import ParsedRoster, shown
from engine.oncall.times import AMSTERDAM, year_problem
from engine.registry.snapshot import StaffData

ICS_HORIZON = timedelta(days=90)
_NOT_CONTENT = ("DTSTAMP", "LAST-MODIFIED", "CREATED")
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+-]{1,30}(/[A-Za-z0-9_+-]{1,30}){0,3}")  # IANA-shaped


class _UtcAsLocal(CalendarWalker):  # type: ignore[misc]
    """Reads the UTC times of a calendar with X-WR-TIMEZONE as that zone's local times."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def walk_value_datetime(self, dt: datetime) -> datetime:
        """A UTC time in the zone; others unchanged (floating ones stay floating)."""
        return dt.astimezone(self.zone) if self.is_UTC(dt) else dt

    def walk_value_vDDDTypes(self, value: Any) -> Any:
        """Keep RANGE=THISANDFUTURE on a converted RECURRENCE-ID."""
        new = super().walk_value_vDDDTypes(value)
        if new is not value and "RANGE" in value.params:
            new.params["RANGE"] = value.params["RANGE"]
        return new


@dataclass


class _Version:
    """One VEVENT as found: its UID, the instance it overrides (if any), and its SEQUENCE."""

    uid: str
    component: Any
    instance: Any  # None for a series or single event; else the RECURRENCE-ID as a key
    sequence: int


def read_ical_roster(
    path: Path, staff: dict[str, StaffData], start: datetime | None, until: datetime | None
) -> ParsedRoster:
    """The shifts of one roster calendar, with every bad event named by its UID."""
    parsed = ParsedRoster(path, f"ics:{path.name}")
    calendar = _read_calendar(parsed)
    if calendar is None:
        return parsed
    zone, calendar = _calendar_zone(parsed, calendar)
    if zone is None:
        return parsed
    versions = _newest_versions(parsed, _versions(parsed, calendar, zone))
    adapters = _adapters(parsed, versions, staff, zone)
    if parsed.problems or not adapters:
        return parsed
    _set_window(parsed, adapters, zone, start, until)
    expand_shifts(parsed, adapters, zone)
    return parsed


# --- the calendar ---------------------------------------------------------------------------


def _read_calendar(parsed: ParsedRoster) -> Any:
    try:
        calendar = icalendar.Calendar.from_ical(parsed.path.read_bytes())
    except (OSError, ValueError) as exc:
        parsed.problems.append(
            f"{parsed.path}: file: cannot read the calendar / onleesbaar: {shown(str(exc), 200)}"
        )
        return None
    scale = str(calendar.get("CALSCALE") or "GREGORIAN").strip().upper()
    if scale != "GREGORIAN":
        parsed.problems.append(
            f"{parsed.path}: CALSCALE: only GREGORIAN calendars / alleen GREGORIAN"
        )
        return None
    return calendar


def _calendar_zone(parsed: ParsedRoster, calendar: Any) -> tuple[tzinfo | None, Any]:
    """The zone of floating times (X-WR-TIMEZONE, else Amsterdam) and the calendar to read."""
    name = calendar.get("X-WR-TIMEZONE")
    if name is None:
        return AMSTERDAM, calendar
    key = str(name).strip()
    try:
        if not _ZONE_KEY.fullmatch(key):
            raise ValueError(key)
        zone = ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        parsed.problems.append(
            f"{parsed.path}: X-WR-TIMEZONE: unknown time zone {shown(key, 60)!r}"
            " / onbekende tijdzone"
        )
        return None, calendar
    return zone, _UtcAsLocal(zone).walk(calendar)


# --- versions of one event ------------------------------------------------------------------


def _versions(parsed: ParsedRoster, calendar: Any, zone: tzinfo) -> list[_Version]:
    found: list[_Version] = []
    for index, component in enumerate(calendar.walk("VEVENT"), start=1):
        uid = str(component.get("UID") or f"EVENT-{index}").strip()
        try:
            instance = _instance_key(component)
            sequence = component.get("SEQUENCE", 0)
            if isinstance(sequence, list) or not isinstance(sequence, int):
                raise EventError("SEQUENCE: not a number / geen getal")
        except EventError as exc:
            parsed.problems.append(f"{parsed.path}:{shown(uid)}: {exc}")
            continue
        found.append(_Version(uid, component, instance, sequence))
    _all_day_instances(found, zone)
    return found


def _instance_key(component: Any) -> Any:
    value = _prop_value(component, "RECURRENCE-ID")
    if value is None:
        return None
    item = component["RECURRENCE-ID"]
    kind = str(item.params.get("RANGE", "THISANDFUTURE")).upper()
    if kind != "THISANDFUTURE":
        raise EventError(
            f"RECURRENCE-ID: RANGE={kind[:20]} is not supported, only THISANDFUTURE"
            " / alleen THISANDFUTURE"
        )
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _all_day_instances(versions: list[_Version], zone: tzinfo) -> None:
    """Outlook names an instance of an all-day series by a date-time: read it as that day."""
    all_day = {
        v.uid for v in versions
        if v.instance is None and _is_date(v.component.get("DTSTART"))
    }
    for v in versions:
        if v.uid not in all_day or not isinstance(v.instance, datetime):
            continue
        item = v.component["RECURRENCE-ID"]
        value = item.dt
        # The day as written in the value's own zone; a UTC value names it in the calendar's.
        day = (value.astimezone(zone) if value.utcoffset() == timedelta(0) else value).date()
        replacement = vDDDTypes(day)
        if "RANGE" in item.params:
            replacement.params["RANGE"] = item.params["RANGE"]
        v.component["RECURRENCE-ID"] = replacement
        v.instance = day


def _is_date(item: Any) -> bool:
    try:
        value = item.dt
    except Exception:  # absent, or a value icalendar could not parse (checked later)
        return False
    return isinstance(value, date) and not isinstance(value, datetime)


def _newest_versions(parsed: ParsedRoster, versions: list[_Version]) -> list[_Version]:
    """Per UID and instance the version with the highest SEQUENCE; refuse a tie that differs."""
    groups: dict[tuple[str, Any], list[_Version]] = defaultdict(list)
    for v in versions:
        groups[(v.uid, v.instance)].append(v)
    kept: list[_Version] = []
    for (uid, instance), group in groups.items():
        newest = max(v.sequence for v in group)
        top = [v for v in group if v.sequence == newest]
        if len(top) > 1 and len({_content(v.component) for v in top}) > 1:
            which = f" for RECURRENCE-ID {instance}" if instance is not None else ""
            parsed.problems.append(
                f"{parsed.path}:{shown(uid)}: {len(top)} different versions with SEQUENCE {newest}"
                f"{which}; keep one, or give the newest a higher SEQUENCE"
                " / verschillende versies met hetzelfde SEQUENCE"
            )
            continue
        kept.append(top[0])
    return kept


def _content(component: Any) -> str:
    copy = component.copy()
    for name in _NOT_CONTENT:
        copy.pop(name, None)
    try:
        return bytes(copy.to_ical()).decode("utf-8", "replace")
    except ValueError:  # a value icalendar cannot write back; its checks name it later
        return repr(sorted((k, repr(v)) for k, v in copy.items()))


# --- checking each event --------------------------------------------------------------------


def _adapters(
    parsed: ParsedRoster, versions: list[_Version], staff: dict[str, StaffData], zone: tzinfo
) -> list[ShiftAdapter]:
    adapters: list[ShiftAdapter] = []
    for v in versions:
        try:
            adapters.append(_checked(v, staff, zone))
        except EventError as exc:
            parsed.problems.append(f"{parsed.path}:{shown(v.uid)}: {exc}")
    return adapters


def _checked(version: _Version, staff: dict[str, StaffData], zone: tzinfo) -> ShiftAdapter:
    component = version.component
    cancelled = str(component.get("STATUS") or "").strip().upper() == "CANCELLED"
    start = _prop_value(component, "DTSTART")
    if start is None:
        raise EventError("DTSTART: missing / ontbreekt")
    _check_length(component, start, zone)
    for recur in _as_list(component.get("RRULE")):
        if not isinstance(recur, icalendar.vRecur):
            raise EventError("RRULE: cannot be read / onleesbaar")
        problems = rule_problems(recur)
        if problems:
            raise EventError("; ".join(problems))
        align_until(recur, start, zone)
    _check_dates(component, "RDATE", start, zone)
    _check_dates(component, "EXDATE", start, zone)
    staff_id = "" if cancelled else find_staff(component, staff)
    return ShiftAdapter(component, version.uid, staff_id, cancelled)


def _check_length(component: Any, start: Any, zone: tzinfo) -> None:
    end = _prop_value(component, "DTEND")
    duration = _prop_value(component, "DURATION")
    if end is not None:
        _check_span(instant(start, zone), instant(end, zone), "DTEND")
    elif duration is not None:
        if not isinstance(duration, timedelta):
            raise EventError("DURATION: cannot be read / onleesbaar")
        _check_span(timedelta(0), duration, "DURATION")
    elif isinstance(start, datetime):
        raise EventError(
            "DTEND: missing, so the event has zero length; give DTEND or DURATION"
            " / ontbreekt: dienst zonder lengte"
        )


def _check_span(start: Any, end: Any, prop: str) -> None:
    if end == start:
        raise EventError(
            f"{prop}: zero-length event: end equals start / nul lengte: einde is gelijk aan begin"
        )
    if end < start:
        raise EventError(f"{prop}: end is before start / einde ligt voor begin")


def _check_dates(component: Any, prop: str, start: Any, zone: tzinfo) -> None:
    """RDATE and EXDATE values: readable, known zones, RDATE periods with a length."""
    for item in _as_list(component.get(prop)):
        if not isinstance(item, icalendar.vDDDLists):
            raise EventError(f"{prop}: cannot be read / onleesbaar")
        tzid = item.params.get("TZID")
        for value in item.dts:
            dt = value.dt
            first = dt[0] if isinstance(dt, tuple) else dt
            if tzid and isinstance(first, datetime) and first.tzinfo is None:
                raise EventError(
                    f"{prop}: unknown TZID {shown(str(tzid), 60)!r} / onbekende tijdzone")
            problem = year_problem(first) or (
                year_problem(dt[1]) if isinstance(dt, tuple) and isinstance(dt[1], date) else None)
            if problem:
                raise EventError(f"{prop}: {problem}")
            if prop == "RDATE" and isinstance(start, datetime) != isinstance(first, datetime):
                raise EventError(
                    "RDATE: a date where DTSTART is a date-time, or the other way round"
                    " / datum en tijd door elkaar"
                )
            if isinstance(dt, tuple):
                period_end = dt[1] if isinstance(dt[1], timedelta) else (
                    instant(dt[1], zone) - instant(dt[0], zone))
                _check_span(timedelta(0), period_end, "RDATE")


def _prop_value(component: Any, prop: str) -> Any:
    """A single date, date-time or duration property's value, or None when absent."""
    item = component.get(prop)
    if item is None:
        return None
    if isinstance(item, list):
        raise EventError(f"{prop}: given more than once / staat er meer dan eens")
    try:
        value = item.dt
    except Exception:  # icalendar raises its own types for a value it could not parse
        value = None
    if value is None or isinstance(value, tuple):
        raise EventError(f"{prop}: cannot be read / onleesbaar")
    tzid = item.params.get("TZID") if hasattr(item, "params") else None
    if tzid and isinstance(value, datetime) and value.tzinfo is None:
        raise EventError(f"{prop}: unknown TZID {shown(str(tzid), 60)!r} / onbekende tijdzone")
    problem = year_problem(value) if isinstance(value, date) else None
    if problem:
        raise EventError(f"{prop}: {problem}")
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --- window and expansion -------------------------------------------------------------------


def _set_window(
    parsed: ParsedRoster, adapters: list[ShiftAdapter], zone: tzinfo,
    start: datetime | None, until: datetime | None,
) -> None:
    first = min(instant(a.start, zone) for a in adapters)
    parsed.window_from = start or first
    if until is None:
        single_ends = [
            instant(a.end, zone) for a in adapters if not a.recurs and not a.cancelled
        ]
        until = max([parsed.window_from + ICS_HORIZON, *single_ends])
    parsed.window_until = until
