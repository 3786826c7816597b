"""Agreements: goals set together with a community, open until done."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.audit.events import record
from engine.audit.log import append
from engine.errors import InputError, NotFoundError
from engine.incidents.options import text_problem
from engine.store.models import Agreement, Community

TEXT_CHARS = 500


def agreement_doc(row: Agreement | Mapping[Any, Any]) -> dict[str, Any]:
    """An agreement (a row or a mapping of its columns) as plain data."""
    values = row if isinstance(row, Mapping) else row.model_dump()
    due = values["due"]
    return {"id": values["id"], "community": values["community_id"], "text": values["text"],
            "due": due.isoformat() if due else None, "done": values["done_at"] is not None}


def add_agreement(session: Session, *, community: str, text: str, due: date | None,
                  now: datetime, actor: str = "cli") -> dict[str, Any]:
    """Record an agreement in the caller's transaction; InputError lists every problem."""
    problems = []
    row = session.get(Community, community)
    if row is None or not row.active:
        problems.append(f"--community {community[:80]}: no such active community / "
                        "onbekende gemeenschap")
    if not text.strip():
        problems.append("--text: empty / leeg")
    problem = text_problem("--text", text, TEXT_CHARS)
    if problem:
        problems.append(problem)
    if problems:
        raise InputError(problems)
    agreement = Agreement(community_id=community, text=text.strip(), due=due, created_at=now,
                          created_by=actor)
    session.add(agreement)
    session.flush()
    record(session, kind="peacetime.agreement", at=now, community_id=community, actor=actor,
           agreement_id=agreement.id, due=due.isoformat() if due else None)
    append(session, action="agreement.add", object=f"agreement:{agreement.id}", at=now,
           details={"community": community})
    return agreement_doc(agreement)


def finish_agreement(session: Session, *, agreement_id: int, now: datetime,
                     actor: str = "cli") -> bool:
    """Mark an agreement done; False when it was done already."""
    row = session.get(Agreement, agreement_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"agreement {agreement_id}: no such agreement / onbekende afspraak")
    if row.done_at is not None:
        return False
    row.done_at, row.done_by = now, actor
    record(session, kind="peacetime.agreement_done", at=now, community_id=row.community_id,
           actor=actor, agreement_id=agreement_id)
    append(session, action="agreement.done", object=f"agreement:{agreement_id}", at=now)
    return True


def open_agreements(conn: Connection, communities: list[str] | None = None
                    ) -> dict[str, list[dict[str, Any]]]:
    """Open agreements per community (all, or of the communities named), oldest first."""
    a = Agreement.__table__  # type: ignore[attr-defined]
    query = sa.select(a).where(a.c.done_at.is_(None)).order_by(a.c.id)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if communities is not None:
        for start in range(0, len(communities), 500):
            for row in conn.execute(query.where(
                    a.c.community_id.in_(communities[start:start + 500]))).mappings():
                out[row["community_id"]].append(agreement_doc(row))
        return dict(out)
    for row in conn.execute(query).mappings():
        out[row["community_id"]].append(agreement_doc(row))
    return dict(out)
