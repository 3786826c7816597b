"""Reading the registry as plain, frozen data for the rules engine and the flows."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.models import Community, Contact, OptOut, Staff
from playbook.model import CommunityData, ContactData


@dataclass(frozen=True)
class StaffData:
    """One staff member, as plain data."""

    id: str
    name: str
    phone: str | None
    email: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class RegistrySnapshot:
    """The active registry at one moment: what a checklist is built from."""

    communities: tuple[CommunityData, ...]
    contacts: tuple[ContactData, ...]
    staff: tuple[StaffData, ...]
    opted_out: frozenset[tuple[str, str]]  # (channel, address)


def load_snapshot(conn: Connection) -> RegistrySnapshot:
    """Load active communities, active contacts, active staff and opt-outs in four queries."""
    c, p, s = Community.__table__, Contact.__table__, Staff.__table__
    communities = tuple(
        CommunityData(
            id=r.id, name=r.name, kind=r.kind, tags=tuple(r.tags or ()),
            languages=tuple(r.languages or ()), area=r.area, lat=r.lat, lon=r.lon,
            liaison_id=r.liaison_id, attributes=MappingProxyType(dict(r.attributes or {})),
        )
        for r in conn.execute(sa.select(c).where(c.c.active.is_(True)).order_by(c.c.id))
    )
    contacts = tuple(
        ContactData(
            id=r.id, community_id=r.community_id, name=r.name, priority=r.priority,
            phone=r.phone, email=r.email, channel=r.channel, language=r.language,
            consent=r.consent, active=r.active,
        )
        for r in conn.execute(sa.select(p).where(p.c.active.is_(True)).order_by(p.c.id))
    )
    staff = tuple(
        StaffData(id=r.id, name=r.name, phone=r.phone, email=r.email, roles=tuple(r.roles or ()))
        for r in conn.execute(sa.select(s).where(s.c.active.is_(True)).order_by(s.c.id))
    )
    o = OptOut.__table__
    opted_out = frozenset((r.channel, r.address) for r in conn.execute(sa.select(o)))
    return RegistrySnapshot(communities, contacts, staff, opted_out)
