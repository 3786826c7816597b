"""The on-call services: import roster files, who is on call at a moment, the stored shifts.

Keyword-only verbs over an engine, each in a transaction of its own (reads are read-only, so
they never wait for a writer); they return values with their JSON documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from engine.clock import iso_z
from engine.oncall import queries
from engine.oncall.importer import import_rosters
from engine.oncall.model import RosterReport, ShiftView, StaffOnCall
from engine.oncall.times import local_label
from engine.registry.snapshot import StaffData
from engine.store.db import reading, session_scope


@dataclass(frozen=True)
class OnCall:
    """Who is on call at a moment; with nobody, the coordinators an oncall step goes to."""

    at: datetime
    on_call: list[StaffOnCall]
    coordinators: list[StaffData]

    def as_dict(self) -> dict[str, Any]:
        """The `oncall now --json` document (UTC times, and local ones for people)."""
        return {
            "at": iso_z(self.at),
            "at_local": local_label(self.at),
            "on_call": [
                {"id": p.id, "name": p.name, "starts_at": iso_z(p.starts_at),
                 "ends_at": iso_z(p.ends_at), "starts_local": local_label(p.starts_at),
                 "ends_local": local_label(p.ends_at)}
                for p in self.on_call
            ],
            "fallback": None if self.on_call else "coordinators",
            "coordinators": [{"id": c.id, "name": c.name} for c in self.coordinators],
        }


@dataclass(frozen=True)
class Shifts:
    """The stored shifts that overlap [start, until)."""

    start: datetime
    until: datetime | None
    shifts: list[ShiftView]

    def as_dict(self) -> dict[str, Any]:
        """The `oncall list --json` document."""
        return {"from": iso_z(self.start), "until": iso_z(self.until) if self.until else None,
                "shifts": queries.shifts_of(self.shifts)}


def import_roster(*, engine: Engine, paths: Sequence[Path],
                  replace_from: datetime | None = None, replace_until: datetime | None = None,
                  dry_run: bool = False) -> list[RosterReport]:
    """Import roster files (.csv, .ics) all or nothing, each replacing the shifts of its own
    window; InputError lists every bad row or event and changes nothing."""
    with session_scope(engine) as session:
        return import_rosters(session, paths, replace_from=replace_from,
                              replace_until=replace_until, dry_run=dry_run)


def on_call(*, engine: Engine, at: datetime) -> OnCall:
    """Who is on call at `at`; with nobody, the coordinators (who then get an oncall step)."""
    with reading(engine).connect() as conn:
        found = queries.on_call_at(conn, at)
        fallback = [] if found else queries.coordinators(conn)
    return OnCall(at, found, fallback)


def list_shifts(*, engine: Engine, start: datetime, until: datetime | None = None) -> Shifts:
    """Stored shifts overlapping [start, until), ordered by start, staff id and end."""
    with reading(engine).connect() as conn:
        return Shifts(start, until, queries.list_shifts(conn, start=start, until=until))
