"""Figures over all real incidents declared in a period, for the council's quarterly report.

Exercises are left out of every figure and listed apart, marked. Each incident is evaluated
as `incident export` does (without personal data), and only its per-community figures are
kept, so memory follows the number of communities concerned, not the messages or events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import InputError
from engine.reports.evaluation import (
    ROLE_ORDER,
    CommunityFigures,
    Evaluation,
    RoleFigures,
    assemble,
    need_label,
    role_figures,
)
from engine.reports.i18n import label
from engine.store.models import Incident


@dataclass
class IncidentLine:
    """One incident of the period, as listed."""

    id: int
    declared_at: datetime
    type_label: dict[str, str]
    type: str
    title: str
    severity: int
    exercise: bool
    communities: int
    reached: int


@dataclass
class PeriodReport:
    """The period's figures (real incidents only) and its list of incidents."""

    start: datetime
    end: datetime  # exclusive
    zone: str
    generated_at: datetime
    incidents: list[IncidentLine] = field(default_factory=list)
    communities: list[CommunityFigures] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[int] = field(default_factory=Counter)
    channels: dict[str, Counter[str]] = field(default_factory=dict)
    needs: Counter[str] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)
    type_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    need_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def real(self) -> list[IncidentLine]:
        """The incidents that count."""
        return [i for i in self.incidents if not i.exercise]

    @property
    def exercises(self) -> list[IncidentLine]:
        """The exercises: listed, never counted."""
        return [i for i in self.incidents if i.exercise]

    def roles(self) -> list[RoleFigures]:
        """Figures per role over the real incidents' communities, then overall."""
        present = [r for r in ROLE_ORDER if any(c.role == r for c in self.communities)]
        present += sorted({c.role for c in self.communities} - set(ROLE_ORDER))
        out = [role_figures(r, [c for c in self.communities if c.role == r]) for r in present]
        out.append(role_figures("all", self.communities))
        return out

    def reach_series(self) -> dict[str, tuple[int, list[float]]]:
        """As Evaluation.reach_series, over the period's real incidents."""
        return Evaluation.reach_series(self)  # type: ignore[arg-type]


def parse_day(text: str, option: str) -> date:
    """A `YYYY-MM-DD` date of an option, or a refusal naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text[:40]!r}: not a date (YYYY-MM-DD)") from None


def period_bounds(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """From the start of `start` to the end of `end` (inclusive), in the zone, as UTC."""
    if end < start:
        raise InputError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(0), tz)
    finish = datetime.combine(end + timedelta(days=1), time(0), tz)
    return begin.astimezone(UTC), finish.astimezone(UTC)


def assemble_period(conn: Connection, start: datetime, end: datetime, *, zone: str,
                    now: datetime) -> PeriodReport:
    """The report over the incidents declared from `start` up to (not including) `end`."""
    t = Incident.__table__
    ids = conn.execute(sa.select(t.c.id).where(t.c.declared_at >= start, t.c.declared_at < end)
                       .order_by(t.c.declared_at, t.c.id)).scalars().all()
    report = PeriodReport(start=start, end=end, zone=zone, generated_at=now)
    for incident_id in ids:
        ev = assemble(conn, incident_id, include_pii=False, now=now)
        _add(report, ev)
    return report


def _add(report: PeriodReport, ev: Evaluation) -> None:
    h = ev.head
    report.incidents.append(IncidentLine(
        id=h.id, declared_at=h.declared_at, type_label=h.type_label, type=h.type,
        title=h.title, severity=h.severity, exercise=h.exercise,
        communities=len(ev.communities),
        reached=sum(1 for c in ev.communities if c.acknowledged_at is not None)))
    if h.exercise:
        return
    report.type_labels.setdefault(h.type, h.type_label)
    report.by_type[h.type] += 1
    report.by_severity[h.severity] += 1
    for channel, counts in ev.channels.items():
        report.channels.setdefault(channel, Counter()).update(counts)
    for c in ev.communities:
        for need in c.needs:
            key = f"{need[0]}:{need[1]}:{need[2]}"
            report.needs[key] += 1
            report.need_labels.setdefault(key, {
                lang: need_label(ev.playbook, need, lang) for lang in ("nl", "en")})
        for task in c.tasks:
            report.tasks["all"] += 1
            report.tasks[task.state] += 1
    for task in ev.incident_tasks:
        report.tasks["all"] += 1
        report.tasks[task.state] += 1
    report.communities += ev.communities


def type_name(report: PeriodReport, type_id: str, lang: str) -> str:
    """The label of an incident type in a language."""
    return label(report.type_labels.get(type_id, {}), lang, type_id)
