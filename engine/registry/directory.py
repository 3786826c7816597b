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


