"""Reading the registry as plain, frozen data for the rules engine and the flows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING

from playbook.model import CommunityData, ContactData

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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


def _decoded(rows: list, column: int, empty: str) -> list:
    """One JSON column of all rows, decoded in a single call (SQLite hands back text)."""
    values = [r[column] for r in rows]
    if all(v is None or isinstance(v, str) for v in values):
        return json.loads("[" + ",".join(v or empty for v in values) + "]")
    return [v if v is not None else json.loads(empty) for v in values]


def _date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    return date.fromisoformat(str(value)[:10])


def _fetch(conn: Connection, sql: str) -> list:
    cursor = conn.connection.driver_connection.cursor()  # plain tuples, no result wrapping
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def load_snapshot(conn: Connection) -> RegistrySnapshot:
    """Load active communities, contacts and staff, and the opt-outs, in four plain queries.

    Rows are read through the driver and turned into frozen dataclasses directly: building ORM
    objects first costs more than the rules engine itself on a large registry.
    """
    rows = _fetch(conn, "SELECT id, name, kind, tags, languages, area, lat, lon, liaison_id, "
                        "attributes FROM community WHERE active ORDER BY id")
    tags, languages = _decoded(rows, 3, "[]"), _decoded(rows, 4, "[]")
    attributes = _decoded(rows, 9, "{}")
    communities = tuple(
        CommunityData(
            id=r[0], name=r[1], kind=r[2], tags=tuple(tags[n]), languages=tuple(languages[n]),
            area=r[5], lat=r[6], lon=r[7], liaison_id=r[8],
            attributes=MappingProxyType(attributes[n]),
        )
        for n, r in enumerate(rows)
    )
    # A withdrawn consent reads as none: the contact is on no checklist (engine/privacy).
    contacts = tuple(
        ContactData(
            id=r[0], community_id=r[1], name=r[2], priority=r[3], phone=r[4], email=r[5],
            channel=r[6], language=r[7], consent=_date(r[8]), active=True,
        )
        for r in _fetch(conn, "SELECT id, community_id, name, priority, phone, email, channel, "
                              "language, CASE WHEN withdrawn_at IS NULL THEN consent END "
                              "FROM contact WHERE active ORDER BY id")
    )
    rows = _fetch(conn, "SELECT id, name, phone, email, roles FROM staff WHERE active ORDER BY id")
    roles = _decoded(rows, 4, "[]")
    staff = tuple(
        StaffData(id=r[0], name=r[1], phone=r[2], email=r[3], roles=tuple(roles[n]))
        for n, r in enumerate(rows)
    )
    opted_out = frozenset(
        (r[0], r[1]) for r in _fetch(conn, "SELECT channel, address FROM optout")
    )
    return RegistrySnapshot(communities, contacts, staff, opted_out)
