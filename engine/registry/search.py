"""Finding communities for people: a search over name, id, kind, tags and area, and one
community's own data (no contact details: those go through engine.registry.directory and
are audited by whoever shows them)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.models import Community, Contact, Staff

QUERY_CHARS = 100
MAX_RESULTS = 200


def _fold(text: str | None) -> str:
    return (text or "").casefold()


def matches(row: Any, words: list[str]) -> bool:
    """Whether every word of the query is in the community's name, id, kind, tags or area."""
    haystack = " ".join([_fold(row["id"]), _fold(row["name"]), _fold(row["kind"]),
                         _fold(row["area"]), *(_fold(t) for t in row["tags"] or [])])
    return all(word in haystack for word in words)


def search(conn: Connection, *, query: str, liaison: str | None = None,
           include_inactive: bool = False, limit: int = 50) -> dict[str, Any]:
    """Communities matching every word of `query` (all when empty), by name; only those of
    `liaison` when given. `total` counts every match, `communities` holds at most `limit`."""
    c, s = Community.__table__, Staff.__table__  # type: ignore[attr-defined]
    words = [w for w in _fold(query[:QUERY_CHARS]).split() if w]
    select = (sa.select(c.c.id, c.c.name, c.c.kind, c.c.tags, c.c.area, c.c.liaison_id,
                        c.c.active, s.c.name.label("liaison_name"))
              .join(s, s.c.id == c.c.liaison_id, isouter=True)
              .order_by(c.c.name, c.c.id))
    if not include_inactive:
        select = select.where(c.c.active)
    if liaison is not None:
        select = select.where(c.c.liaison_id == liaison)
    limit = max(1, min(limit, MAX_RESULTS))
    if not words:  # the first page of everything: let the database count and cut
        total = conn.execute(sa.select(sa.func.count()).select_from(
            select.order_by(None).subquery())).scalar_one()
        return {"query": "", "total": total, "communities": [
            _summary(row) for row in conn.execute(select.limit(limit)).mappings()]}
    # Words are matched in Python: casefold() folds every script alike on both databases
    # (SQLite's lower() folds ASCII only), and tags are a JSON list.
    found = [row for row in conn.execute(select).mappings() if matches(row, words)]
    return {"query": query[:QUERY_CHARS], "total": len(found),
            "communities": [_summary(row) for row in found[:limit]]}


def _summary(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "kind": row["kind"],
            "tags": list(row["tags"] or []), "area": row["area"],
            "liaison": row["liaison_id"], "liaison_name": row["liaison_name"],
            "active": bool(row["active"])}


def profile(conn: Connection, community_id: str) -> dict[str, Any] | None:
    """One community's data, its liaison's name and how many active contacts it has; None
    when there is no such community."""
    if len(community_id) > 200:
        return None
    c, s = Community.__table__, Staff.__table__  # type: ignore[attr-defined]
    row = conn.execute(sa.select(c, s.c.name.label("liaison_name"),
                                 s.c.active.label("liaison_active"))
                       .join(s, s.c.id == c.c.liaison_id, isouter=True)
                       .where(c.c.id == community_id)).mappings().first()
    if row is None:
        return None
    k = Contact.__table__  # type: ignore[attr-defined]
    contacts = conn.execute(sa.select(sa.func.count()).where(
        k.c.community_id == community_id, k.c.active)).scalar_one()
    return {**_summary(row), "languages": list(row["languages"] or []),
            "attributes": dict(row["attributes"] or {}), "lat": row["lat"], "lon": row["lon"],
            "liaison_active": bool(row["liaison_active"]), "contacts": contacts}


def active_staff(conn: Connection) -> list[dict[str, Any]]:
    """Active staff members (id, name), by name."""
    s = Staff.__table__  # type: ignore[attr-defined]
    return [dict(r) for r in conn.execute(sa.select(s.c.id, s.c.name).where(s.c.active)
                                          .order_by(s.c.name, s.c.id)).mappings()]
