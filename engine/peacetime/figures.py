"""The figures a municipality reports about peace time over a period: contacts made, share on
neutral ground, communities never contacted, agreements kept, contacts per month per kind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import iso_z
from engine.store.models import Agreement, Community, ContactLog, ContactLogCommunity


@dataclass
class PeacetimeFigures:
    """Figures of one period; no personal data (ids and names of communities only)."""

    start: datetime
    end: datetime
    zone: str
    contacts: int = 0
    neutral_ground: int = 0
    by_kind_contact: dict[str, int] = field(default_factory=dict)  # visit, call, ...
    bridging: int = 0  # contacts with several communities
    per_month: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> kind -> n
    never_contacted: list[dict[str, str]] = field(default_factory=list)
    not_in_period: list[dict[str, str]] = field(default_factory=list)
    agreements_due: int = 0
    agreements_kept: int = 0
    agreements_made: int = 0
    agreements_done: int = 0

    @property
    def neutral_share(self) -> float | None:
        """The share of contacts on neutral ground (None without contacts)."""
        return self.neutral_ground / self.contacts if self.contacts else None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for a JSON API or the dashboard)."""
        return {"from": iso_z(self.start), "to": iso_z(self.end), "contacts": self.contacts,
                "neutral_ground": self.neutral_ground, "neutral_share": self.neutral_share,
                "by_contact_kind": self.by_kind_contact, "bridging": self.bridging,
                "per_month": self.per_month, "never_contacted": self.never_contacted,
                "not_contacted_in_period": self.not_in_period,
                "agreements": {"due": self.agreements_due, "kept": self.agreements_kept,
                               "made": self.agreements_made, "done": self.agreements_done}}


def assemble_figures(conn: Connection, *, start: datetime, end: datetime,
                     zone: str) -> PeacetimeFigures:
    """The figures of the contacts from `start` up to (not including) `end`."""
    figures = PeacetimeFigures(start, end, zone)
    log, lc = ContactLog.__table__, ContactLogCommunity.__table__  # type: ignore[attr-defined]
    c, a = Community.__table__, Agreement.__table__  # type: ignore[attr-defined]
    tz = ZoneInfo(zone)
    kinds: Counter[str] = Counter()
    months: dict[str, Counter[str]] = {}
    for month in _months(start, end, tz):
        months[month] = Counter()
    rows = conn.execute(sa.select(log.c.id, log.c.at, log.c.kind, log.c.neutral_ground)
                        .where(log.c.at >= start, log.c.at < end)).all()
    community_kinds: dict[str, str] = dict(conn.execute(sa.select(c.c.id, c.c.kind)).all())
    touched: dict[int, set[str]] = {}
    for log_id, cid in conn.execute(sa.select(lc.c.log_id, lc.c.community_id).join(
            log, log.c.id == lc.c.log_id).where(log.c.at >= start, log.c.at < end)):
        touched.setdefault(log_id, set()).add(cid)
    for log_id, at, kind, neutral in rows:
        figures.contacts += 1
        figures.neutral_ground += bool(neutral)
        kinds[kind] += 1
        members = touched.get(log_id, set())
        figures.bridging += len(members) > 1
        month = at.astimezone(tz).strftime("%Y-%m")
        for community_kind in sorted({community_kinds.get(m, "?") for m in members}):
            months.setdefault(month, Counter())[community_kind] += 1
    figures.by_kind_contact = dict(sorted(kinds.items()))
    figures.per_month = {m: dict(sorted(n.items())) for m, n in sorted(months.items())}
    _coverage(conn, figures, touched)
    _agreements(conn, figures, a, tz)
    return figures


def _months(start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    first, last = start.astimezone(tz), end.astimezone(tz)
    year, month, out = first.year, first.month, []
    while (year, month) < (last.year, last.month) or (
            (year, month) == (last.year, last.month) and last.day > 1):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _coverage(conn: Connection, figures: PeacetimeFigures, touched: dict[int, set[str]]) -> None:
    log, lc = ContactLog.__table__, ContactLogCommunity.__table__  # type: ignore[attr-defined]
    c = Community.__table__  # type: ignore[attr-defined]
    ever = set(conn.execute(sa.select(lc.c.community_id).join(
        log, log.c.id == lc.c.log_id).where(log.c.at < figures.end)).scalars())
    in_period = set().union(*touched.values()) if touched else set()
    for cid, name, kind in conn.execute(sa.select(c.c.id, c.c.name, c.c.kind)
                                        .where(c.c.active).order_by(c.c.id)):
        item = {"id": cid, "name": name, "kind": kind}
        if cid not in ever:
            figures.never_contacted.append(item)
        elif cid not in in_period:
            figures.not_in_period.append(item)


def _agreements(conn: Connection, figures: PeacetimeFigures, a: sa.Table, tz: ZoneInfo) -> None:
    first = figures.start.astimezone(tz).date()
    last = figures.end.astimezone(tz).date()  # exclusive
    for due, done_at, created_at in conn.execute(sa.select(a.c.due, a.c.done_at,
                                                           a.c.created_at)):
        if figures.start <= created_at < figures.end:
            figures.agreements_made += 1
        if done_at is not None and figures.start <= done_at < figures.end:
            figures.agreements_done += 1
        if due is not None and first <= due < last:
            figures.agreements_due += 1
            if done_at is not None and done_at.astimezone(tz).date() <= due:
                figures.agreements_kept += 1
