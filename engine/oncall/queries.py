"""Who is on call at a moment, who coordinates, and which shifts are stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.clock import as_utc, iso_z
from engine.oncall.model import ShiftView, StaffOnCall
from engine.registry.snapshot import StaffData
from engine.store.models import Shift, Staff


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
