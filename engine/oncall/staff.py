"""Who may be rostered: staff members with the oncall role, looked up once per import."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.oncall.model import shown
from engine.registry.snapshot import StaffData
from engine.store.models import Staff


def load_staff(session: Session | Connection) -> dict[str, StaffData]:
    """Every staff member by id, active or not."""
    s = Staff.__table__
    rows = session.execute(sa.select(s.c.id, s.c.name, s.c.phone, s.c.email, s.c.roles))
    return {
        r.id: StaffData(r.id, r.name, r.phone, r.email, tuple(r.roles or ()))
        for r in rows
    }


def inactive_ids(session: Session | Connection) -> set[str]:
    """Ids of the staff members who are inactive."""
    s = Staff.__table__
    return set(session.execute(sa.select(s.c.id).where(s.c.active.is_(False))).scalars())


def staff_problem(staff_id: str, staff: dict[str, StaffData]) -> str | None:
    """Why this id cannot hold a shift, or None when it can."""
    if not staff_id:
        return "missing staff id / medewerker ontbreekt"
    member = staff.get(staff_id)
    if member is None:
        return f"unknown staff id {shown(staff_id)!r} / onbekende medewerker"
    if "oncall" not in member.roles:
        return f"staff {staff_id!r} does not have the oncall role / heeft de rol oncall niet"
    return None
