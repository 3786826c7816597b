"""Consent withdrawn (an SMS STOP, or staff with `registry withdraw`) and given again.

A withdrawal is honoured everywhere at once: the contact's `withdrawn_at` leaves it out of
every later checklist (its consent reads as none), of every later escalation step and fallback
(`engine.outreach.compose.contact_recipient`), and of sending (a claimed message to it is
refused like an opted-out address); its messages not yet handed to a provider are cancelled
in the same transaction. Each withdrawal is an event on the registry's timeline, one on the
timeline of every open incident it concerns, and an audit row.

A registry import never lifts a withdrawal by itself (`withdrawn_at` is not an import column):
only a consent date in the file that lies after the day of the withdrawal does, which means
the municipality recorded a new consent. A START by SMS lifts a withdrawal that a STOP from
the same number made, not one that staff recorded.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.audit.events import record
from engine.audit.log import append
from engine.errors import NotFoundError
from engine.privacy.texts import keep_note
from engine.store.models import Contact, Incident, Message
from engine.store.states import IncidentStatus, MessageState, sources

BY_SMS = "sms"  # `withdrawn_by` of a withdrawal made by a STOP


def withdraw(session: Session, *, contact_id: str, by: str, via: str, now: datetime,
             note: str | None = None, action: str = "registry.withdraw") -> bool:
    """Record that a contact withdrew consent and honour it at once; False when it had."""
    contact = session.exec(select(Contact).where(Contact.id == contact_id)
                           .with_for_update()).first()
    if contact is None:
        shown = contact_id if len(contact_id) <= 80 else contact_id[:80] + "…"
        raise NotFoundError(f"contact {shown}: no such contact / onbekende contactpersoon")
    if contact.withdrawn_at is not None:
        return False
    contact.withdrawn_at, contact.withdrawn_by = now, BY_SMS if via == "sms" else by
    note_id = keep_note(session, text=note, author=by, at=now, subject=f"contact:{contact_id}")
    cancelled = cancel_unsent(session, [contact_id], now)
    record(session, kind="consent.withdrawn", at=now, actor=by, contact=contact_id, via=via,
           note_id=note_id, messages_cancelled=sum(cancelled.values()))
    for incident_id in sorted(set(cancelled) | concerned_incidents(session, contact_id)):
        record(session, kind="consent.withdrawn", at=now, incident_id=incident_id, actor=by,
               contact=contact_id, via=via, messages_cancelled=cancelled.get(incident_id, 0))
    append(session, actor=by, action=action, object=f"contact:{contact_id}", at=now,
           details={"via": via, "messages_cancelled": sum(cancelled.values()),
                    "note_id": note_id})
    return True


def renew(session: Session, *, contact_id: str, by: str, via: str, now: datetime,
          action: str) -> None:
    """Lift a withdrawal: the contact is reachable again from the next checklist on."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.withdrawn_at is None:
        return
    since = contact.withdrawn_at
    contact.withdrawn_at = contact.withdrawn_by = None
    record(session, kind="consent.renewed", at=now, actor=by, contact=contact_id, via=via)
    append(session, actor=by, action=action, object=f"contact:{contact_id}", at=now,
           details={"via": via, "withdrawn_at": since.isoformat()})


def cancel_unsent(session: Session, contact_ids: list[str], now: datetime) -> dict[int, int]:
    """Cancel the messages to these contacts that no provider has yet; how many per incident."""
    table = Message.__table__
    unsent = sources(MessageState.CANCELLED, MessageState.PENDING, MessageState.FAILED_TEMP)
    done = session.execute(
        sa.update(table)
        .where(table.c.recipient_kind == "contact", table.c.recipient_id.in_(contact_ids),
               table.c.state.in_(unsent))
        .values(state=MessageState.CANCELLED, detail="consent withdrawn", updated_at=now)
        .returning(table.c.incident_id)
    ).scalars().all()
    return dict(Counter(i for i in done if i is not None))


def concerned_incidents(session: Session, contact_id: str) -> set[int]:
    """Open incidents whose checklist names this contact."""
    found = set()
    for incident in session.exec(select(Incident).where(
            Incident.status == IncidentStatus.OPEN)):
        for entry in incident.checklist.get("communities", []):
            if any(c.get("id") == contact_id for c in entry.get("contacts", [])):
                found.add(incident.id)
                break
    return found


def stop_from(session: Session, *, address: str, now: datetime) -> list[str]:
    """An SMS STOP: every contact with this number withdraws consent; the ids."""
    ids = list(session.exec(select(Contact.id).where(
        Contact.phone == address, Contact.withdrawn_at.is_(None)).order_by(Contact.id)))
    for contact_id in ids:
        withdraw(session, contact_id=contact_id, by=f"contact:{contact_id}", via="sms",
                 now=now, action="optout.stop")
    if not ids:
        append(session, actor=BY_SMS, action="optout.stop", at=now, details={"contacts": 0})
    return ids


def start_from(session: Session, *, address: str, now: datetime) -> list[str]:
    """An SMS START: withdrawals that a STOP from this number made are lifted; the ids."""
    ids = list(session.exec(select(Contact.id).where(
        Contact.phone == address, Contact.withdrawn_by == BY_SMS).order_by(Contact.id)))
    for contact_id in ids:
        renew(session, contact_id=contact_id, by=f"contact:{contact_id}", via="sms", now=now,
              action="optout.start")
    if not ids:
        append(session, actor=BY_SMS, action="optout.start", at=now, details={"contacts": 0})
    return ids


def reconcile_import(session: Session, rows: list[dict[str, Any]] | None, *, now: datetime,
                     actor: str, dry_run: bool) -> list[str]:
    """After an import: lift the withdrawals that the file answers with a later consent date;
    warn about withdrawn contacts still in the file (they stay withdrawn)."""
    if not rows:
        return []
    withdrawn = dict(session.exec(select(Contact.id, Contact.withdrawn_at).where(
        Contact.withdrawn_at.is_not(None))).all())
    lifted, kept = [], []
    for row in rows:
        since = withdrawn.get(row["id"])
        if since is None:
            continue
        if row.get("consent") is not None and row["consent"] > since.date():
            lifted.append(row["id"])
        else:
            kept.append(row["id"])
    if not dry_run:
        for contact_id in lifted:
            renew(session, contact_id=contact_id, by=actor, via="import", now=now,
                  action="registry.consent")
    return _import_warnings(sorted(kept), sorted(lifted))


def _import_warnings(kept: list[str], lifted: list[str]) -> list[str]:
    out = []
    if kept:
        out.append(f"{len(kept)} contactpersonen in de import hebben hun toestemming "
                   "ingetrokken en blijven uitgesloten (neem ze uit de sociale kaart, of leg een "
                   "nieuwe toestemmingsdatum vast) / contacts in the import withdrew their "
                   "consent and stay left out (remove them from the map, or record a consent "
                   f"date after the withdrawal): {_some(kept)}")
    if lifted:
        out.append(f"{len(lifted)} contactpersonen gaven opnieuw toestemming (datum na de "
                   "intrekking) / contacts gave consent again (a date after the withdrawal): "
                   f"{_some(lifted)}")
    return out


def _some(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (", ..." if len(ids) > limit else "")
