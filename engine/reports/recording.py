"""Who asked for an export, recorded before any of it leaves the process.

One function, so that it can be pointed at the hash-chained audit log
(`engine.audit.log.append`) when that lands: until then it writes an `incident.exported`
event to the incident's timeline.
"""

from __future__ import annotations

import getpass
import re
from datetime import datetime

from sqlmodel import Session

from engine.audit.events import record

_ACTOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+\-]")


def cli_actor() -> str:
    """Who runs the command: `cli:` and the operating-system login name (bounded, plain)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        user = "unknown"
    return "cli:" + (_ACTOR_UNSAFE.sub("_", user)[:64] or "unknown")


def record_export(session: Session, *, incident_id: int, actor: str, what: str, fmt: str,
                  pii: bool, now: datetime) -> None:
    """Record that `actor` took an export (`what`: export or callsheet) of an incident."""
    record(session, kind="incident.exported", at=now, incident_id=incident_id, actor=actor,
           what=what, format=fmt, pii=pii)
