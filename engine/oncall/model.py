"""Value objects of the on-call roster: shifts, who is on call, and what an import did."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.clock import iso_z

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def shown(text: str, limit: int = 80) -> str:
    """A name from a file as it may appear in a message: no control characters, bounded."""
    text = _CONTROL.sub("?", text)
    return text if len(text) <= limit else f"{text[:limit]}..."


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
class ParsedRoster:
    """One file read and checked, not yet applied: its shifts, window, problems and warnings."""

    path: Path
    source: str
    shifts: list[ShiftData] = field(default_factory=list)
    window_from: datetime | None = None
    window_until: datetime | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
