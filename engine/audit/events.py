"""The timeline: every change of state is one Event row, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from engine.store.bulk import insert_rows
from engine.store.models import Event


def record(
    session: Session,
    *,
    kind: str,
    at: datetime,
    incident_id: int | None = None,
    community_id: str | None = None,
    actor: str = "system",
    **data: Any,
) -> Event:
    """Add one event to the session's transaction; data must hold no phone or email."""
    event = Event(
        at=at, kind=kind, incident_id=incident_id, community_id=community_id, actor=actor,
        data=data,
    )
    session.add(event)
    return event


def record_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert many events at once (rows carry at, kind, incident_id, community_id, actor, data)."""
    insert_rows(conn, Event.__table__, rows)


def timeline(session: Session, incident_id: int) -> list[Event]:
    """The events of one incident, oldest first."""
    return list(
        session.exec(
            select(Event).where(Event.incident_id == incident_id).order_by(Event.at, Event.id)
        )
    )
