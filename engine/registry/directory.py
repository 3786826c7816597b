"""Contact details for staff who may see them: the people of one community, and which
liaison each community has (what engine.accounts.rules decides on)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from engine.store.models import Community, Contact, Staff


def liaisons_of(session: Session, community_ids: list[str]) -> dict[str, str | None]:
    """The liaison (staff id) of each of these communities."""
    if not community_ids:
        return {}
    rows = session.exec(select(Community.id, Community.liaison_id)
                        .where(col(Community.id).in_(community_ids)))
    return dict(rows.all())


def community_of(session: Session, community_id: str) -> Community | None:
    """The community with this id, or None."""
    return session.get(Community, community_id) if len(community_id) <= 200 else None


def contacts_of(session: Session, community_id: str) -> list[dict[str, Any]]:
    """The active contacts of a community in the order they are tried (priority)."""
    rows = session.exec(select(Contact).where(Contact.community_id == community_id,
                                              col(Contact.active).is_(True))
                        .order_by(Contact.priority, Contact.id))
    return [{"id": c.id, "name": c.name, "role": c.role, "priority": c.priority,
             "phone": c.phone, "email": c.email, "channel": c.channel, "language": c.language}
            for c in rows]


def choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """What a declare form offers to pick from: the active communities (id, name) and the tags
    in use (tag, tag), sorted."""
    communities = sorted(session.exec(select(Community.id, Community.name).where(
        Community.active == True)), key=lambda c: c[1].casefold())  # noqa: E712
    tags = sorted({tag for tags in session.exec(select(Community.tags).where(
        Community.active == True)) for tag in tags})  # noqa: E712
    return {"communities": [(c[0], c[1]) for c in communities],
            "tags": [(t, t) for t in tags]}


def staff_choices(session: Session) -> list[tuple[str, str]]:
    """Active staff members (id, name) by name: whom a coordinator may act for."""
    rows = session.exec(select(Staff.id, Staff.name).where(Staff.active == True))  # noqa: E712
    return sorted(((r[0], r[1]) for r in rows), key=lambda r: r[1].casefold())


def search_communities(session: Session, *, query: str, liaison_id: str | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """Active communities whose id, name, kind or a tag holds `query` (any case), by name;
    only those of one liaison when `liaison_id` is given. No contact details."""
    wanted = query.strip().casefold()[:100]
    rows = session.exec(select(Community).where(col(Community.active).is_(True)))
    found = [c for c in rows
             if (liaison_id is None or c.liaison_id == liaison_id)
             and (not wanted or wanted in c.id.casefold() or wanted in c.name.casefold()
                  or wanted in c.kind.casefold()
                  or any(wanted in t.casefold() for t in c.tags))]
    found.sort(key=lambda c: c.name.casefold())
    return [_community_doc(c) for c in found[:limit]]


def community_details(session: Session, community_id: str) -> dict[str, Any] | None:
    """A community as its page shows it (no contact details), with its liaison's name."""
    community = community_of(session, community_id)
    if community is None:
        return None
    doc = _community_doc(community)
    liaison = session.get(Staff, community.liaison_id) if community.liaison_id else None
    doc["liaison_name"] = liaison.name if liaison is not None else None
    doc["contacts"] = len(contacts_of(session, community_id))
    return doc


def _community_doc(c: Community) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind, "tags": list(c.tags),
            "languages": list(c.languages), "area": c.area, "liaison_id": c.liaison_id,
            "active": c.active}
