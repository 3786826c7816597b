"""Who asked for an export, recorded before any of it leaves the process: a row of the
hash-chained audit log (`engine.audit.log`) and an `incident.exported` event on the
incident's timeline, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from engine.audit.events import record
from engine.audit.log import append, cli_actor

__all__ = ["cli_actor", "record_export"]


def record_export(session: Session, *, incident_id: int, actor: str, what: str, fmt: str,
                  pii: bool, now: datetime) -> None:
    """Record that `actor` took an export (`what`: export or callsheet) of an incident."""
    record(session, kind="incident.exported", at=now, incident_id=incident_id, actor=actor,
           what=what, format=fmt, pii=pii)
    append(session, actor=actor, action=f"incident.{what}", object=f"incident:{incident_id}",
           at=now, details={"format": fmt, "include_pii": pii})
