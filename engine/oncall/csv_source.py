"""Roster CSV files: one shift per row, `staff,start,end`, read the way the registry reads CSV.

Decoding (UTF-8 with or without BOM), the delimiter (comma or semicolon, quotes respected) and
the header are the registry's (`engine.registry.sources`). Times are ISO 8601 with an offset or
local `YYYY-MM-DD HH:MM` in Europe/Amsterdam; a local time that the DST change skips or repeats
is refused. The window runs from the earliest start to the latest end in the file;
`replace_from` and `replace_until` can only widen it (a row is never dropped).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from engine.oncall.model import ParsedRoster, ShiftData
from engine.oncall.staff import staff_problem
from engine.oncall.times import parse_time
from engine.registry.problems import Problem
from engine.registry.snapshot import StaffData
from engine.registry.sources import read_csv_table

CSV_COLUMNS = ("staff", "start", "end")


def read_csv_roster(
    path: Path, staff: dict[str, StaffData], start: datetime | None, until: datetime | None
) -> ParsedRoster:
    """The shifts of one roster CSV file, with every bad row named."""
    parsed = ParsedRoster(path, f"csv:{path.name}")
    problems: list[Problem] = []
    try:
        table = read_csv_table(path, "roster", problems)
    except OSError as exc:
        parsed.problems.append(f"{path}:1: file: cannot be read / onleesbaar: {exc.strerror}")
        return parsed
    parsed.problems.extend(str(p) for p in problems)
    if table is None:
        return parsed
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    parsed.problems.extend(f"{path}:1: {c}: missing column / kolom ontbreekt" for c in missing)
    if missing:
        return parsed
    for number, row in table.rows:
        _read_row(parsed, number, {c: str(row.get(c) or "") for c in CSV_COLUMNS}, staff)
    _set_window(parsed, start, until)
    return parsed


def _read_row(
    parsed: ParsedRoster, number: int, row: dict[str, str], staff: dict[str, StaffData]
) -> None:
    where = f"{parsed.path}:{number}"
    staff_id = row["staff"]
    problem = staff_problem(staff_id, staff)
    if problem:
        parsed.problems.append(f"{where}: staff: {problem}")
    times: dict[str, datetime] = {}
    for column in ("start", "end"):
        try:
            times[column] = parse_time(row[column])
        except ValueError as exc:
            parsed.problems.append(f"{where}: {column}: {exc}")
    if len(times) < 2:
        return
    if times["end"] <= times["start"]:
        parsed.problems.append(f"{where}: end: not after start / einde ligt niet na begin")
        return
    if not problem:
        parsed.shifts.append(ShiftData(times["start"], times["end"], staff_id))


def _set_window(parsed: ParsedRoster, start: datetime | None, until: datetime | None) -> None:
    starts = [s.starts_at for s in parsed.shifts] + ([start] if start else [])
    ends = [s.ends_at for s in parsed.shifts] + ([until] if until else [])
    parsed.window_from = min(starts) if starts else None
    parsed.window_until = max(ends) if ends else None
