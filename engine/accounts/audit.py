"""What staff did with accounts and whom they saw: rows of the hash-chained audit log (and a
timeline event).

Reading a contact's details is itself a record (who saw whom): every such read goes through
`contacts_viewed`; account changes go through `account_event`. Neither ever holds a phone
number, an email address or a name: only ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from engine.audit.events import record
from engine.audit.log import append

CONTACT_VIEWED = "contact.viewed"


def contacts_viewed(session: Session, *, actor: str, community_id: str,
                    contact_ids: list[str], at: datetime, source: str,
                    incident_id: int | None = None) -> None:
    """Record that `actor` saw the details of these contacts of one community."""
    record(session, kind=CONTACT_VIEWED, at=at, incident_id=incident_id,
           community_id=community_id, actor=actor, contacts=sorted(contact_ids), source=source)
    append(session, actor=actor, action="contact.view", object=f"community:{community_id}",
           source=source, at=at,
           details={"contacts": sorted(contact_ids), "incident": incident_id})


def account_event(session: Session, *, kind: str, actor: str, account_id: int | None,
                  at: datetime, **data: Any) -> None:
    """Record a change to an account or a token (kind `account.*` or `token.*`)."""
    record(session, kind=kind, at=at, actor=actor, account=account_id, **data)
    append(session, actor=actor, action=kind, object=f"account:{account_id}"
           if account_id is not None else None, at=at, details=data)
