"""The on-call roster: shifts imported from CSV or iCalendar, and who is on call at a moment.

Replacement rule (why a re-import is idempotent): every file is one *source*, named
`csv:FILENAME` or `ics:FILENAME`, and covers a *window* [from, until). An import makes the
shifts of that source that start inside the window exactly the shifts of the file: missing
ones are removed, new ones added, equal ones kept. Shifts of other sources, and of the same
source outside the window, are left alone.

- CSV: the window runs from the earliest start to the latest end in the file; `replace_from`
  and `replace_until` can only widen it (a row is never dropped).
- iCalendar: the window runs from the first event's start for 90 days (or up to the latest
  end of a single, non-recurring event, when later); `replace_from` / `replace_until` set it.
  Recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded in it, and only
  occurrences that start in it are imported.

Local times (CSV `YYYY-MM-DD HH:MM`, floating and all-day iCalendar values) are in
Europe/Amsterdam; everything is stored in UTC.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
from dateutil import rrule as du_rrule
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.clock import as_utc, iso_z
from engine.errors import InputError
from engine.registry.service import StaffData
from engine.store.models import Shift, Staff

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ICS_HORIZON = timedelta(days=90)
MAX_OCCURRENCES = 5000  # per recurring event: a runaway RRULE must not fill the table
CSV_COLUMNS = ("staff", "start", "end")
_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ShiftData:
    """One shift as plain data, in UTC."""

    starts_at: datetime
    ends_at: datetime
    staff_id: str


@dataclass(frozen=True)
class StaffOnCall:
    """A staff member on call at a moment, with the covering shift's start and end (UTC)."""

    id: str
    name: str
    phone: str | None
    email: str | None
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class ShiftView:
    """A stored shift with its staff member's name, for listing."""

    staff_id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    source: str
    active: bool


@dataclass
class RosterReport:
    """What an import of one file did (or, with dry_run, would do)."""

    file: str
    source: str
    window_from: datetime | None
    window_until: datetime | None
    shifts: int
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (times as `YYYY-MM-DDTHH:MM:SSZ`)."""
        data = asdict(self)
        for key in ("window_from", "window_until"):
            data[key] = iso_z(data[key]) if data[key] else None
        return data


@dataclass
class _Parsed:
    """A file read and checked, not yet applied."""

    path: Path
    source: str
    shifts: list[ShiftData]
    window_from: datetime | None
    window_until: datetime | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- time parsing ---------------------------------------------------------------------------


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


def localise_strict(wall: datetime) -> datetime:
    """Wall-clock Amsterdam time as UTC; refuse times that the DST change skips or repeats."""
    early = wall.replace(tzinfo=AMSTERDAM, fold=0)
    late = wall.replace(tzinfo=AMSTERDAM, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    shown = wall.strftime("%Y-%m-%d %H:%M")
    if early.astimezone(UTC).astimezone(AMSTERDAM).replace(tzinfo=None) != wall:
        raise ValueError(
            f"{shown} does not exist in Europe/Amsterdam (clocks go forward); give an offset"
            " / bestaat niet (zomertijd), geef een offset"
        )
    raise ValueError(
        f"{shown} occurs twice in Europe/Amsterdam (clocks go back); give an offset"
        " / komt twee keer voor (wintertijd), geef een offset"
    )


def _wall_to_utc(wall: datetime, zone: tzinfo) -> datetime:
    # RFC 5545: a skipped time moves forward by the gap, a repeated one is the first (fold 0).
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


# --- staff ----------------------------------------------------------------------------------


def _load_staff(session: Session | Connection) -> dict[str, StaffData]:
    s = Staff.__table__
    rows = session.execute(sa.select(s.c.id, s.c.name, s.c.phone, s.c.email, s.c.roles, s.c.active))
    return {
        r.id: StaffData(r.id, r.name, r.phone, r.email, tuple(r.roles or ()))
        for r in rows
    }


def _inactive_ids(session: Session | Connection) -> set[str]:
    s = Staff.__table__
    return set(session.execute(sa.select(s.c.id).where(s.c.active.is_(False))).scalars())


def _staff_problem(staff_id: str, staff: dict[str, StaffData]) -> str | None:
    if not staff_id:
        return "missing staff id / medewerker ontbreekt"
    member = staff.get(staff_id)
    if member is None:
        return f"unknown staff id {staff_id!r} / onbekende medewerker"
    if "oncall" not in member.roles:
        return f"staff {staff_id!r} does not have the oncall role / heeft de rol oncall niet"
    return None


# --- CSV ------------------------------------------------------------------------------------


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start}) / geen UTF-8") from None


def _csv_table(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header names (lower case) and the non-empty rows, numbered as a spreadsheet shows them."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [h.strip().lower() for h in next(reader, [])]
    rows = [
        (number, {n: (cell or "").strip() for n, cell in zip(names, row, strict=False)})
        for number, row in enumerate(reader, start=2)
        if any(cell.strip() for cell in row)
    ]
    return names, rows


def _read_csv(path: Path, staff: dict[str, StaffData]) -> _Parsed:
    parsed = _Parsed(path, f"csv:{path.name}", [], None, None)
    try:
        names, rows = _csv_table(_decode(path))
    except (OSError, ValueError, csv.Error) as exc:
        parsed.problems.append(f"{path}:1: file: {exc}")
        return parsed
    if not names:
        return parsed
    missing = [c for c in CSV_COLUMNS if c not in names]
    parsed.problems.extend(f"{path}:1: {c}: missing column / kolom ontbreekt" for c in missing)
    if missing:
        return parsed
    for number, row in rows:
        _read_csv_row(parsed, number, row, staff)
    return parsed


def _read_csv_row(
    parsed: _Parsed, number: int, row: dict[str, str], staff: dict[str, StaffData]
) -> None:
    where = f"{parsed.path}:{number}"
    staff_id = row.get("staff", "")
    problem = _staff_problem(staff_id, staff)
    if problem:
        parsed.problems.append(f"{where}: staff: {problem}")
    times: dict[str, datetime] = {}
    for column in ("start", "end"):
        try:
            times[column] = parse_time(row.get(column, ""))
        except ValueError as exc:
            parsed.problems.append(f"{where}: {column}: {exc}")
    if len(times) < 2:
        return
    if times["end"] <= times["start"]:
        parsed.problems.append(f"{where}: end: not after start / einde ligt niet na begin")
        return
    if not problem:
        parsed.shifts.append(ShiftData(times["start"], times["end"], staff_id))


def _csv_window(parsed: _Parsed, start: datetime | None, until: datetime | None) -> None:
    starts = [s.starts_at for s in parsed.shifts] + ([start] if start else [])
    ends = [s.ends_at for s in parsed.shifts] + ([until] if until else [])
    parsed.window_from = min(starts) if starts else None
    parsed.window_until = max(ends) if ends else None


# --- iCalendar ------------------------------------------------------------------------------


@dataclass
class _Event:
    """One VEVENT reduced to what a shift needs; times as wall clock in `zone`."""

    uid: str
    staff_id: str
    zone: tzinfo
    all_day: bool
    start: datetime  # naive wall clock
    length: timedelta  # wall-clock length: a 20:00-08:00 shift keeps its 08:00 handover
    component: Any
    recurrence_id: datetime | None = None  # UTC start of the occurrence this one replaces
    cancelled: bool = False

    @property
    def starts_at(self) -> datetime:
        """The first start in UTC."""
        return _wall_to_utc(self.start, self.zone)

    def shift_at(self, wall: datetime) -> ShiftData:
        """The shift of the occurrence starting at this wall-clock time."""
        return ShiftData(
            _wall_to_utc(wall, self.zone), _wall_to_utc(wall + self.length, self.zone),
            self.staff_id,
        )


class _EventError(ValueError):
    """A VEVENT that cannot become shifts."""


def _wall(value: Any, prop: str) -> tuple[datetime, tzinfo, bool]:
    """A DTSTART-like value as (naive wall clock, zone, all-day)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value, AMSTERDAM, False  # floating time: the municipality's own clock
        return value.replace(tzinfo=None), value.tzinfo, False
    if isinstance(value, date):
        return datetime.combine(value, time(0)), AMSTERDAM, True
    raise _EventError(f"{prop}: not a date or time / geen datum of tijd")


def _prop_value(component: Any, prop: str) -> Any:
    item = component.get(prop)
    if item is None:
        return None
    if isinstance(item, list):
        raise _EventError(f"{prop}: given more than once / staat er meer dan eens")
    try:
        value = item.dt
    except Exception:  # icalendar raises its own types for a value it could not parse
        value = None
    if value is None:
        raise _EventError(f"{prop}: cannot be read / onleesbaar")
    tzid = item.params.get("TZID") if hasattr(item, "params") else None
    if tzid and isinstance(value, datetime) and value.tzinfo is None:
        raise _EventError(f"{prop}: unknown TZID {tzid!r} / onbekende tijdzone")
    return value


def _event_times(component: Any) -> tuple[datetime, tzinfo, bool, timedelta]:
    value = _prop_value(component, "DTSTART")
    if value is None:
        raise _EventError("DTSTART: missing / ontbreekt")
    start, zone, all_day = _wall(value, "DTSTART")
    end_value = _prop_value(component, "DTEND")
    duration = _prop_value(component, "DURATION")
    if end_value is not None:
        end, end_zone, _ = _wall(end_value, "DTEND")
        if end_zone is not zone:
            end = _wall_to_utc(end, end_zone).astimezone(zone).replace(tzinfo=None)
        length = end - start
    elif isinstance(duration, timedelta):
        length = duration
    else:
        length = timedelta(days=1) if all_day else timedelta(0)
    if length <= timedelta(0):
        raise _EventError("DTEND: end is not after start / einde ligt niet na begin")
    return start, zone, all_day, length


def _mailto(prop: Any) -> str:
    text = str(prop).strip()
    return text[7:].strip().lower() if text.lower().startswith("mailto:") else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _find_staff(component: Any, staff: dict[str, StaffData]) -> str:
    """X-VERBINDER-STAFF, else an ATTENDEE's email, else SUMMARY = id, else ORGANIZER's email."""
    explicit = [str(v).strip() for v in _as_list(component.get("X-VERBINDER-STAFF"))]
    if explicit:
        if len(set(explicit)) > 1:
            raise _EventError("X-VERBINDER-STAFF: more than one staff id / meer dan één")
        return _checked(explicit[0], staff, "X-VERBINDER-STAFF")
    by_email = {m.email.strip().lower(): m.id for m in staff.values() if m.email}
    attendees = {by_email[e] for e in map(_mailto, _as_list(component.get("ATTENDEE")))
                 if e in by_email}
    if len(attendees) > 1:
        raise _EventError(
            "ATTENDEE: several staff members; set X-VERBINDER-STAFF / meerdere medewerkers"
        )
    if attendees:
        return _checked(attendees.pop(), staff, "ATTENDEE")
    summary = str(component.get("SUMMARY") or "").strip()
    by_id = {i.lower(): i for i in staff}
    if summary.lower() in by_id:
        return _checked(by_id[summary.lower()], staff, "SUMMARY")
    organizer = _mailto(component.get("ORGANIZER") or "")
    if organizer in by_email:
        return _checked(by_email[organizer], staff, "ORGANIZER")
    raise _EventError(
        "no staff member found (X-VERBINDER-STAFF, ATTENDEE/ORGANIZER email, or SUMMARY = staff"
        " id) / geen medewerker gevonden"
    )


def _checked(staff_id: str, staff: dict[str, StaffData], prop: str) -> str:
    problem = _staff_problem(staff_id, staff)
    if problem:
        raise _EventError(f"{prop}: {problem}")
    return staff_id


def _to_event(component: Any, index: int, staff: dict[str, StaffData]) -> _Event:
    uid = str(component.get("UID") or f"EVENT-{index}").strip()
    cancelled = str(component.get("STATUS") or "").strip().upper() == "CANCELLED"
    rid_value = _prop_value(component, "RECURRENCE-ID")
    recurrence_id = None
    if rid_value is not None:
        wall, zone, _ = _wall(rid_value, "RECURRENCE-ID")
        recurrence_id = _wall_to_utc(wall, zone)
    start, zone, all_day, length = _event_times(component)
    staff_id = "" if cancelled else _find_staff(component, staff)
    return _Event(uid, staff_id, zone, all_day, start, length, component, recurrence_id,
                  cancelled)


def _rule_walls(event: _Event, lo: datetime, hi: datetime) -> list[datetime]:
    """Wall-clock starts of a recurring event in [lo, hi) (UTC bounds)."""
    rules = [_rrule(event, r) for r in _as_list(event.component.get("RRULE"))]
    lo_wall = lo.astimezone(event.zone).replace(tzinfo=None) - timedelta(hours=3)
    hi_wall = hi.astimezone(event.zone).replace(tzinfo=None) + timedelta(hours=3)
    walls: set[datetime] = set()
    for rule in rules:
        walls.update(islice(_between(rule, lo_wall, hi_wall), MAX_OCCURRENCES + 1))
    walls.update(_dates(event, "RDATE"))
    walls.add(event.start)
    excluded = _dates(event, "EXDATE")
    kept = sorted(w for w in walls if w not in excluded and w.date() not in excluded)
    if len(kept) > MAX_OCCURRENCES:
        raise _EventError(f"RRULE: more than {MAX_OCCURRENCES} occurrences / te veel herhalingen")
    return kept


def _between(rule: du_rrule.rrule, lo: datetime, hi: datetime) -> Iterator[datetime]:
    for wall in rule.xafter(lo, inc=True):
        if wall >= hi:
            return
        yield wall


def _rrule(event: _Event, recur: Any) -> du_rrule.rrule:
    if not isinstance(recur, icalendar.vRecur):
        raise _EventError("RRULE: cannot be read / onleesbaar")
    params = dict(recur)
    until = params.pop("UNTIL", [None])[0]
    text = icalendar.vRecur(params).to_ical().decode()
    try:
        rule = du_rrule.rrulestr(text, dtstart=event.start)
    except (ValueError, TypeError) as exc:
        raise _EventError(f"RRULE: {exc}") from None
    if until is not None:
        rule = rule.replace(until=_until_wall(until, event))
    return rule


def _until_wall(until: Any, event: _Event) -> datetime:
    if isinstance(until, datetime):
        if until.tzinfo is None:
            return until
        return until.astimezone(event.zone).replace(tzinfo=None)
    return datetime.combine(until, time.max)  # a DATE UNTIL includes that whole day


def _dates(event: _Event, prop: str) -> set[Any]:
    """RDATE/EXDATE values as wall clock in the event's zone (plain dates for DATE values)."""
    found: set[Any] = set()
    for item in _as_list(event.component.get(prop)):
        if not isinstance(item, icalendar.vDDDLists):
            raise _EventError(f"{prop}: cannot be read / onleesbaar")
        for value in item.dts:
            dt = value.dt[0] if isinstance(value.dt, tuple) else value.dt
            if isinstance(dt, datetime):
                wall, zone, _ = _wall(dt, prop)
                utc = _wall_to_utc(wall, zone)
                found.add(utc.astimezone(event.zone).replace(tzinfo=None))
            elif prop == "RDATE":
                found.add(datetime.combine(dt, event.start.time()))
            else:
                found.add(dt)
    return found


def _read_ics(
    path: Path, staff: dict[str, StaffData], start: datetime | None, until: datetime | None
) -> _Parsed:
    parsed = _Parsed(path, f"ics:{path.name}", [], None, None)
    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except (OSError, ValueError) as exc:
        parsed.problems.append(f"{path}: file: cannot read the calendar / onleesbaar: {exc}")
        return parsed
    events = _collect_events(parsed, calendar, staff)
    if parsed.problems or not events:
        return parsed
    _ics_window(parsed, events, start, until)
    _expand(parsed, events)
    return parsed


def _collect_events(
    parsed: _Parsed, calendar: Any, staff: dict[str, StaffData]
) -> list[_Event]:
    events: list[_Event] = []
    for index, component in enumerate(calendar.walk("VEVENT"), start=1):
        try:
            events.append(_to_event(component, index, staff))
        except _EventError as exc:
            uid = str(component.get("UID") or f"EVENT-{index}").strip()
            parsed.problems.append(f"{parsed.path}:{uid}: {exc}")
    return events


def _ics_window(
    parsed: _Parsed, events: list[_Event], start: datetime | None, until: datetime | None
) -> None:
    first = min(e.starts_at for e in events)
    parsed.window_from = start or first
    if until is None:
        single_ends = [
            e.shift_at(e.start).ends_at for e in events
            if not _recurs(e) and not e.cancelled
        ]
        until = max([parsed.window_from + ICS_HORIZON, *single_ends])
    parsed.window_until = until


def _expand(parsed: _Parsed, events: list[_Event]) -> None:
    lo, hi = parsed.window_from, parsed.window_until
    assert lo is not None and hi is not None
    overrides = {(e.uid, e.recurrence_id) for e in events if e.recurrence_id is not None}
    outside = 0
    for event in events:
        try:
            shifts = _event_shifts(event, lo, hi, overrides)
        except _EventError as exc:
            parsed.problems.append(f"{parsed.path}:{event.uid}: {exc}")
            continue
        inside = [s for s in shifts if lo <= s.starts_at < hi]
        outside += len(shifts) - len(inside)
        parsed.shifts.extend(inside)
    if outside:
        parsed.warnings.append(
            f"{parsed.path}: {outside} shift(s) outside the window left out"
            " / dienst(en) buiten het venster overgeslagen"
        )


def _event_shifts(
    event: _Event, lo: datetime, hi: datetime, overrides: set[tuple[str, datetime | None]]
) -> list[ShiftData]:
    if event.cancelled:
        return []
    if not _recurs(event):
        return [event.shift_at(event.start)]
    shifts = [event.shift_at(w) for w in _rule_walls(event, lo, hi)]
    return [
        s for s in shifts
        if lo <= s.starts_at < hi and (event.uid, s.starts_at) not in overrides
    ]


def _recurs(event: _Event) -> bool:
    return event.recurrence_id is None and (
        "RRULE" in event.component or "RDATE" in event.component
    )


# --- import ---------------------------------------------------------------------------------


def _read_roster(
    session: Session | Connection,
    path: str | Path,
    *,
    replace_from: datetime | None = None,
    replace_until: datetime | None = None,
) -> _Parsed:
    path = Path(path)
    staff = _load_staff(session)
    suffix = path.suffix.lower()
    if suffix in {".ics", ".ical", ".ifb", ".icalendar"}:
        return _read_ics(path, staff, replace_from, replace_until)
    if suffix in {".csv", ".txt"}:
        parsed = _read_csv(path, staff)
        _csv_window(parsed, replace_from, replace_until)
        return parsed
    parsed = _Parsed(path, f"file:{path.name}", [], None, None)
    parsed.problems.append(f"{path}: file: not a .csv or .ics file / geen .csv- of .ics-bestand")
    return parsed


def import_roster(
    session: Session,
    path: str | Path,
    *,
    replace_from: datetime | None = None,
    replace_until: datetime | None = None,
    dry_run: bool = False,
) -> RosterReport:
    """Import one roster file all-or-nothing; raise InputError listing every bad row or event."""
    return import_rosters(
        session, [path], replace_from=replace_from, replace_until=replace_until, dry_run=dry_run
    )[0]


def import_rosters(
    session: Session,
    paths: Sequence[str | Path],
    *,
    replace_from: datetime | None = None,
    replace_until: datetime | None = None,
    dry_run: bool = False,
) -> list[RosterReport]:
    """Import several roster files in the caller's transaction; any bad file changes nothing."""
    if replace_from and replace_until and replace_until <= replace_from:
        raise InputError("--until: not after --from / ligt niet na --from")
    parsed = [
        _read_roster(session, p, replace_from=replace_from, replace_until=replace_until)
        for p in paths
    ]
    problems = [line for p in parsed for line in p.problems] + _duplicate_sources(parsed)
    if problems:
        raise InputError(problems)
    inactive = _inactive_ids(session)
    reports = [_apply(session, p, dry_run, inactive) for p in parsed]
    if not dry_run:
        session.flush()
    return reports


def _duplicate_sources(parsed: list[_Parsed]) -> list[str]:
    counts = Counter(p.source for p in parsed)
    return [
        f"{p.path}: file: another file in this import has the same name / zelfde bestandsnaam"
        for p in parsed if counts[p.source] > 1
    ]


def _apply(session: Session, parsed: _Parsed, dry_run: bool, inactive: set[str]) -> RosterReport:
    report = RosterReport(
        file=str(parsed.path), source=parsed.source, window_from=parsed.window_from,
        window_until=parsed.window_until, shifts=len(parsed.shifts), dry_run=dry_run,
        warnings=list(parsed.warnings) + _inactive_warnings(parsed, inactive),
    )
    if parsed.window_from is None or parsed.window_until is None:
        return report
    existing = _existing(session, parsed)
    wanted = Counter(parsed.shifts)
    have = Counter(existing.values())
    to_add = wanted - have
    to_remove = have - wanted
    report.added = sum(to_add.values())
    report.removed = sum(to_remove.values())
    report.unchanged = sum((wanted & have).values())
    if not dry_run:
        _write(session, parsed.source, existing, to_add, to_remove)
    return report


def _inactive_warnings(parsed: _Parsed, inactive: set[str]) -> list[str]:
    ids = sorted({s.staff_id for s in parsed.shifts} & inactive)
    return [
        f"{parsed.path}: staff {i!r} is inactive: not called while inactive / inactief"
        for i in ids
    ]


def _existing(session: Session, parsed: _Parsed) -> dict[int, ShiftData]:
    t = Shift.__table__
    rows = session.execute(
        sa.select(t.c.id, t.c.staff_id, t.c.starts_at, t.c.ends_at).where(
            t.c.source == parsed.source,
            t.c.starts_at >= parsed.window_from,
            t.c.starts_at < parsed.window_until,
        )
    )
    return {r.id: ShiftData(r.starts_at, r.ends_at, r.staff_id) for r in rows}


def _write(
    session: Session,
    source: str,
    existing: dict[int, ShiftData],
    to_add: Counter[ShiftData],
    to_remove: Counter[ShiftData],
) -> None:
    remove_ids: list[int] = []
    left = Counter(to_remove)
    for shift_id, data in sorted(existing.items()):
        if left[data] > 0:
            left[data] -= 1
            remove_ids.append(shift_id)
    t = Shift.__table__
    if remove_ids:
        session.execute(sa.delete(t).where(t.c.id.in_(remove_ids)))
    rows = [
        {"staff_id": s.staff_id, "starts_at": s.starts_at, "ends_at": s.ends_at, "source": source}
        for s in sorted(to_add.elements())
    ]
    if rows:
        session.execute(sa.insert(t), rows)


# --- lookups --------------------------------------------------------------------------------


def on_call_at(session_or_conn: Session | Connection, at: datetime) -> list[StaffOnCall]:
    """Active oncall staff with a shift covering `at` (start inclusive, end exclusive).

    Ordered by shift start, then staff id; a person covered by several shifts appears once,
    with the earliest start and the latest end among them.
    """
    t, s = Shift.__table__, Staff.__table__
    at = as_utc(at)
    rows = session_or_conn.execute(
        sa.select(s.c.id, s.c.name, s.c.phone, s.c.email, s.c.roles, t.c.starts_at, t.c.ends_at)
        .join(s, s.c.id == t.c.staff_id)
        .where(t.c.starts_at <= at, t.c.ends_at > at, s.c.active.is_(True))
        .order_by(t.c.starts_at, s.c.id)
    )
    found: dict[str, StaffOnCall] = {}
    for r in rows:
        if "oncall" not in (r.roles or ()):
            continue
        seen = found.get(r.id)
        ends_at = max(r.ends_at, seen.ends_at) if seen else r.ends_at
        starts_at = seen.starts_at if seen else r.starts_at
        found[r.id] = StaffOnCall(r.id, r.name, r.phone, r.email, starts_at, ends_at)
    return list(found.values())


def coordinators(session_or_conn: Session | Connection) -> list[StaffData]:
    """Active staff with the coordinator role, ordered by id."""
    return _with_role(session_or_conn, "coordinator")


def _with_role(session_or_conn: Session | Connection, role: str) -> list[StaffData]:
    s = Staff.__table__
    rows = session_or_conn.execute(sa.select(s).where(s.c.active.is_(True)).order_by(s.c.id))
    return [
        StaffData(r.id, r.name, r.phone, r.email, tuple(r.roles or ()))
        for r in rows if role in (r.roles or ())
    ]


def list_shifts(
    session_or_conn: Session | Connection,
    *,
    start: datetime | None = None,
    until: datetime | None = None,
) -> list[ShiftView]:
    """Stored shifts overlapping [start, until), ordered by start, staff id and end."""
    t, s = Shift.__table__, Staff.__table__
    query = (
        sa.select(t.c.staff_id, s.c.name, s.c.active, t.c.starts_at, t.c.ends_at, t.c.source)
        .join(s, s.c.id == t.c.staff_id, isouter=True)
        .order_by(t.c.starts_at, t.c.staff_id, t.c.ends_at)
    )
    if start is not None:
        query = query.where(t.c.ends_at > start)
    if until is not None:
        query = query.where(t.c.starts_at < until)
    return [
        ShiftView(r.staff_id, r.name or "", r.starts_at, r.ends_at, r.source, bool(r.active))
        for r in session_or_conn.execute(query)
    ]


def shifts_of(items: Iterable[ShiftView]) -> list[dict[str, Any]]:
    """Shifts as JSON-ready dicts."""
    return [
        {"staff": v.staff_id, "name": v.name, "starts_at": iso_z(v.starts_at),
         "ends_at": iso_z(v.ends_at), "source": v.source, "active": v.active}
        for v in items
    ]
