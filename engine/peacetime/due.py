"""Which communities are due for contact: their last contact plus their cadence, against now
and the look-ahead of the playbook's `peacetime:` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import iso_z
from engine.errors import NotFoundError
from engine.peacetime.agreements import open_agreements
from engine.peacetime.log import last_contacts
from engine.store.models import Community, Staff
from playbook.durations import due_after
from playbook.model import Peacetime, Playbook

NO_LIAISON = ""


def local_text(value: datetime | None, zone: str) -> str | None:
    """A time for people: in the playbook's zone, to the minute, with the offset."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")


@dataclass
class DueReport:
    """Communities due for contact, per liaison ("" for none)."""

    checked_at: datetime
    within_days: int
    configured: bool  # the playbook has a `peacetime:` section
    liaisons: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # staff id -> name

    @property
    def count(self) -> int:
        """How many communities are due in all."""
        return sum(len(items) for items in self.liaisons.values())

    def as_dict(self) -> dict[str, Any]:
        """The `--json` document."""
        return {"checked_at": iso_z(self.checked_at), "within_days": self.within_days,
                "configured": self.configured, "count": self.count,
                "liaisons": [{"liaison": lid or None, "name": self.names.get(lid),
                              "communities": items}
                             for lid, items in sorted(self.liaisons.items())]}


def due_report(conn: Connection, *, playbook: Playbook, now: datetime,
               liaison: str | None = None) -> DueReport:
    """Communities overdue or due within the look-ahead, per liaison, with the last contact
    and open agreements."""
    config = playbook.peacetime or Peacetime()
    horizon = due_after(now, config.due_within, playbook.timezone)
    report = DueReport(now, config.due_within.days, playbook.peacetime is not None)
    c, s = Community.__table__, Staff.__table__  # type: ignore[attr-defined]
    query = sa.select(c.c.id, c.c.name, c.c.kind, c.c.tags, c.c.liaison_id).where(
        c.c.active).order_by(c.c.id)
    if liaison is not None:
        if conn.execute(sa.select(s.c.id).where(s.c.id == liaison)).first() is None:
            raise NotFoundError(f"--liaison {liaison[:80]}: no such staff member / onbekende "
                                "medewerker")
        query = query.where(c.c.liaison_id == liaison)
    last = last_contacts(conn)
    due: list[tuple[str, dict[str, Any]]] = []
    for row in conn.execute(query).mappings():
        item = due_item(row, config, last.get(row["id"]), now, horizon, playbook.timezone)
        if item is not None:
            due.append((row["liaison_id"] or NO_LIAISON, item))
    agreements = open_agreements(conn, [item["community"] for _, item in due])
    for lid, item in due:
        item["agreements"] = agreements.get(item["community"], [])
        report.liaisons.setdefault(lid, []).append(item)
    for items in report.liaisons.values():
        items.sort(key=lambda i: (i["due_at"] or "", i["community"]))
    report.names = {r.id: r.name for r in conn.execute(
        sa.select(s.c.id, s.c.name).where(s.c.id.in_(list(report.liaisons))))}
    return report


def due_item(row: Any, config: Peacetime, last: datetime | None, now: datetime,
             horizon: datetime, zone: str) -> dict[str, Any] | None:
    """A community's due entry, or None when it has no cadence or is not due yet."""
    cadence = config.cadence_for(row["kind"], list(row["tags"] or []))
    if cadence is None:
        return None
    due_at = due_after(last, cadence.every, zone) if last is not None else None
    if due_at is not None and due_at > horizon:
        return None
    if due_at is None:
        status, days = "never", None
    elif due_at <= now:
        status, days = "overdue", (now - due_at).days
    else:
        status, days = "due", (due_at - now).days
    return {"community": row["id"], "name": row["name"], "kind": row["kind"],
            "liaison": row["liaison_id"], "every_days": cadence.every.days,
            "last_contact": iso_z(last) if last else None,
            "last_contact_local": local_text(last, zone),
            "due_at": iso_z(due_at) if due_at else None, "status": status, "days": days}
