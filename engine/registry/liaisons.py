"""The liaison history of communities: every change of a community's liaison is a row of
`liaisonchange` (an import records it here; a handover in engine.peacetime)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.models import LiaisonChange

Row = dict[str, Any]


def record_import_changes(conn: Connection, *, added: list[Row], changed: list[Row],
                          existing: dict[str, Row], now: datetime, actor: str) -> int:
    """Record the liaisons an import sets or changes; how many rows were recorded."""
    rows = [{"community_id": r["id"], "liaison_id": r.get("liaison_id"), "previous_id": None,
             "at": now, "source": "import", "actor": actor[:200]}
            for r in added if r.get("liaison_id")]
    for r in changed:
        before = existing.get(r["id"], {}).get("liaison_id")
        if "liaison_id" in r and r["liaison_id"] != before:
            rows.append({"community_id": r["id"], "liaison_id": r["liaison_id"],
                         "previous_id": before, "at": now, "source": "import",
                         "actor": actor[:200]})
    if rows:
        conn.execute(sa.insert(LiaisonChange.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def liaison_history(conn: Connection, community_id: str) -> list[Row]:
    """A community's liaisons, oldest first."""
    lc = LiaisonChange.__table__  # type: ignore[attr-defined]
    return [dict(r) for r in conn.execute(
        sa.select(lc.c.liaison_id, lc.c.previous_id, lc.c.at, lc.c.source)
        .where(lc.c.community_id == community_id).order_by(lc.c.at, lc.c.id)).mappings()]
