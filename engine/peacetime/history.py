"""Contact history and agreements from CSV (a municipality's earlier records, the sample's
half year), all or nothing: every problem as `FILE:ROW: COLUMN: what is wrong`."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from engine.errors import InputError
from engine.peacetime.agreements import add_agreement, finish_agreement
from engine.peacetime.log import log_contact
from engine.store.db import session_scope

MAX_BYTES = 16 * 1024 * 1024
LOG_COLUMNS = ("at", "kind", "by", "communities", "with", "place", "neutral_ground", "note")
AGREEMENT_COLUMNS = ("community", "text", "due", "made", "done")
TRUE = ("ja", "yes", "true", "1", "j", "y")


def _files(path: Path) -> tuple[list[Path], list[Path]]:
    if path.is_dir():
        names = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    elif path.is_file():
        names = [path]
    else:
        raise InputError(f"{path}: no such file or folder / bestaat niet")
    logs = [p for p in names if p.name.lower().startswith("contactlog")]
    agreements = [p for p in names if p.name.lower().startswith("agreements")]
    if not logs and not agreements:
        raise InputError(f"{path}: no contactlog*.csv or agreements*.csv")
    return logs, agreements


def _rows(path: Path, columns: tuple[str, ...], problems: list[str]) -> list[dict[str, str]]:
    if path.stat().st_size > MAX_BYTES:
        problems.append(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns[:3] if c not in (reader.fieldnames or [])]
        if missing:
            problems.append(f"{path}:1: missing column(s) {', '.join(missing)}")
            return []
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    if value.tzinfo is None:
        raise ValueError("needs an offset or Z")
    return value.astimezone(UTC)


def import_history(*, engine: Engine, path: Path, now: datetime,
                   actor: str = "cli") -> dict[str, Any]:
    """Import contact logs and agreements in one transaction; InputError lists every
    problem and nothing is stored."""
    logs, agreement_files = _files(path)
    problems: list[str] = []
    counts = {"contacts": 0, "agreements": 0}
    with session_scope(engine) as session:
        for file in logs:
            for n, row in enumerate(_rows(file, LOG_COLUMNS, problems), start=2):
                where = f"{file}:{n}"
                try:
                    at = _time(row["at"])
                except ValueError as exc:
                    problems.append(f"{where}: at: {row['at'][:40]!r} is no ISO 8601 time ({exc})")
                    continue
                try:
                    log_contact(session, communities=_list(row.get("communities")),
                                kind=row["kind"], by=row["by"], persons=_list(row.get("with")),
                                at=at, now=now, place=row.get("place") or None,
                                neutral_ground=(row.get("neutral_ground") or "").lower() in TRUE,
                                note=row.get("note") or None, actor=actor)
                    counts["contacts"] += 1
                except InputError as exc:
                    problems += [f"{where}: {p}" for p in exc.problems]
        for file in agreement_files:
            for n, row in enumerate(_rows(file, AGREEMENT_COLUMNS, problems), start=2):
                where = f"{file}:{n}"
                try:
                    due = date.fromisoformat(row["due"]) if row.get("due") else None
                    done = _time(row["done"]) if row.get("done") else None
                    made = _time(row["made"]) if row.get("made") else now
                except ValueError as exc:
                    problems.append(f"{where}: due/done: {exc}")
                    continue
                try:
                    doc = add_agreement(session, community=row["community"], text=row["text"],
                                        due=due, now=made, actor=actor)
                    if done is not None:
                        finish_agreement(session, agreement_id=doc["id"], now=done, actor=actor)
                    counts["agreements"] += 1
                except InputError as exc:
                    problems += [f"{where}: {p}" for p in exc.problems]
        if problems:
            raise InputError(["Import geweigerd, er is niets gewijzigd / import refused, "
                              "nothing was changed:", *problems])
    return counts


def _list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(";") if p.strip()]
