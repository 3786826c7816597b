"""One community's peace time on one page: its contact log (notes only when asked for),
agreements open and done, its liaisons over time, whether it is due for contact and whether
it is crisis-ready, and why not."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.peacetime.agreements import community_agreements
from engine.peacetime.due import due_item
from engine.peacetime.log import list_contacts
from engine.peacetime.readiness import community_readiness
from engine.registry.liaisons import liaison_history
from engine.store.models import Community, Staff
from playbook.durations import due_after
from playbook.model import Duration, Peacetime, Playbook

LOG_ROWS = 50  # the newest; `contact list --community` has them all
FAR = Duration(days=3650)


def staff_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Names of these staff members."""
    s = Staff.__table__  # type: ignore[attr-defined]
    wanted = sorted(i for i in ids if i)[:500]
    return dict(conn.execute(sa.select(s.c.id, s.c.name).where(s.c.id.in_(wanted))).all())


def community_peacetime(conn: Connection, *, community_id: str, playbook: Playbook | None,
                        now: Any, consent_stale_days: int,
                        include_notes: bool) -> dict[str, Any]:
    """A community's peace time as plain data; due and readiness are None without a
    playbook (a broken playbook must not hide the log)."""
    entries = list_contacts(conn, community=community_id, include_notes=include_notes)
    history = liaison_history(conn, community_id)
    names = staff_names(conn, {e.by for e in entries}
                        | {h["liaison_id"] or "" for h in history}
                        | {h["previous_id"] or "" for h in history})
    log = [{"id": e.id, "at": e.at, "kind": e.kind, "by": e.by, "by_name": names.get(e.by),
            "communities": e.communities, "with": len(e.persons), "place": e.place,
            "neutral_ground": e.neutral_ground, "note": e.note}
           for e in entries[:LOG_ROWS]]
    page: dict[str, Any] = {
        "log": log, "log_total": len(entries), "agreements": community_agreements(
            conn, community_id),
        "liaisons": [{**h, "name": names.get(h["liaison_id"] or ""),
                      "previous_name": names.get(h["previous_id"] or "")}
                     for h in reversed(history)],
        "readiness": None, "due": None}
    if playbook is not None:
        page["readiness"] = community_readiness(conn, community_id=community_id,
                                                playbook=playbook, now=now,
                                                consent_stale_days=consent_stale_days)
        page["due"] = _due(conn, community_id, playbook, now,
                           entries[0].at if entries else None)
    return page


def _due(conn: Connection, community_id: str, playbook: Playbook, now: Any,
         last: Any) -> dict[str, Any] | None:
    c = Community.__table__  # type: ignore[attr-defined]
    row = conn.execute(sa.select(c.c.id, c.c.name, c.c.kind, c.c.tags, c.c.liaison_id)
                       .where(c.c.id == community_id, c.c.active)).mappings().first()
    if row is None:
        return None
    config = playbook.peacetime or Peacetime()
    # a far horizon: the page says when the next contact is due, however far ahead
    horizon = due_after(now, FAR, playbook.timezone)
    return due_item(row, config, last, now, horizon, playbook.timezone)
