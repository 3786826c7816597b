"""Importing roster files: all or nothing, each file replacing the shifts of its own window.

Replacement rule (why a re-import is idempotent): every file is one *source*, named
`csv:FILENAME` or `ics:FILENAME`, and covers a *window* [from, until). An import makes the
shifts of that source that start inside the window exactly the shifts of the file: missing
ones are removed, new ones added, equal ones kept. Shifts of other sources, and of the same
source outside the window, are left alone. How a file sets its window: `csv_source`,
`ical_source`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from engine.audit.log import append
from engine.errors import InputError
from engine.oncall.csv_source import read_csv_roster
from engine.oncall.ical_source import read_ical_roster
from engine.oncall.model import ParsedRoster, RosterReport, ShiftData
from engine.oncall.staff import inactive_ids, load_staff
from engine.oncall.times import year_problem
from engine.store.models import Shift

CALENDAR_SUFFIXES = {".ics", ".ical", ".ifb", ".icalendar"}
CSV_SUFFIXES = {".csv", ".txt"}


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
    for option, value in (("--from", replace_from), ("--until", replace_until)):
        problem = year_problem(value) if value else None
        if problem:
            raise InputError(f"{option}: {problem}")
    if replace_from and replace_until and replace_until <= replace_from:
        raise InputError("--until: not after --from / ligt niet na --from")
    parsed = [read_roster(session, Path(p), replace_from, replace_until) for p in paths]
    problems = [line for p in parsed for line in p.problems] + _duplicate_sources(parsed)
    if problems:
        raise InputError(problems)
    inactive = inactive_ids(session)
    reports = [_apply(session, p, dry_run, inactive) for p in parsed]
    if not dry_run:
        session.flush()
        append(session, action="oncall.import", object="roster", details={
            "sources": [r.source for r in reports], "added": sum(r.added for r in reports),
            "removed": sum(r.removed for r in reports)})
    return reports


def read_roster(
    session: Session, path: Path, start: datetime | None, until: datetime | None
) -> ParsedRoster:
    """One file read and checked against the staff, by its suffix: .csv or .ics."""
    suffix = path.suffix.lower()
    if suffix in CALENDAR_SUFFIXES:
        return read_ical_roster(path, load_staff(session), start, until)
    if suffix in CSV_SUFFIXES:
        return read_csv_roster(path, load_staff(session), start, until)
    parsed = ParsedRoster(path, f"file:{path.name}")
    parsed.problems.append(f"{path}: file: not a .csv or .ics file / geen .csv- of .ics-bestand")
    return parsed


def _duplicate_sources(parsed: list[ParsedRoster]) -> list[str]:
    counts = Counter(p.source for p in parsed)
    return [
        f"{p.path}: file: another file in this import has the same name / zelfde bestandsnaam"
        for p in parsed if counts[p.source] > 1
    ]


def _apply(
    session: Session, parsed: ParsedRoster, dry_run: bool, inactive: set[str]
) -> RosterReport:
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


def _inactive_warnings(parsed: ParsedRoster, inactive: set[str]) -> list[str]:
    ids = sorted({s.staff_id for s in parsed.shifts} & inactive)
    return [
        f"{parsed.path}: staff {i!r} is inactive: not called while inactive / inactief"
        for i in ids
    ]


def _existing(session: Session, parsed: ParsedRoster) -> dict[int, ShiftData]:
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
