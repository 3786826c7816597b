"""A data subject's access request (GDPR Art. 15): everything held about one person.

A person may be the contact of several communities (one row each, the same phone or email):
the rows that share an address with the contact asked for are that person too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.clock import iso_z
from engine.errors import NotFoundError
from engine.store.models import (
    AuditEntry,
    Contact,
    ContactLog,
    ContactLogPerson,
    Event,
    IncidentCommunity,
    IntakeAnswer,
    Message,
    Note,
    OptOut,
    Reply,
)


def subject_data(session: Session, contact_id: str) -> dict[str, Any]:
    """The document handed to a person who asks what is kept about them."""
    asked = session.get(Contact, contact_id)
    if asked is None:
        shown = contact_id if len(contact_id) <= 80 else contact_id[:80] + "…"
        raise NotFoundError(f"contact {shown}: no such contact / onbekende contactpersoon")
    same = [Contact.id == contact_id]
    if asked.phone:
        same.append(Contact.phone == asked.phone)
    if asked.email:
        same.append(Contact.email == asked.email)
    contacts = list(session.exec(select(Contact).where(sa.or_(*same)).order_by(Contact.id)))
    ids = [c.id for c in contacts]
    actors = [f"contact:{i}" for i in ids]
    addresses = sorted({a for c in contacts for a in (c.phone, c.email) if a})
    return {
        "contact": contact_id,
        "contacts": [_row(c) for c in contacts],
        "opt_outs": [_row(o) for o in session.exec(select(OptOut).where(
            OptOut.address.in_(addresses)))] if addresses else [],
        "messages": [_row(m, skip=("dedupe_key", "claimed_by", "claimed_at", "html"))
                     for m in session.exec(select(Message).where(
                         Message.recipient_kind == "contact", Message.recipient_id.in_(ids))
                         .order_by(Message.id))],
        "intake_answers": [_row(a, skip=("link",)) for a in session.exec(
            select(IntakeAnswer).where(IntakeAnswer.contact_id.in_(ids))
            .order_by(IntakeAnswer.id))],
        "replies": [_row(r) for r in session.exec(select(Reply).where(
            Reply.sender.in_(actors)).order_by(Reply.id))],
        "notes": [_row(n) for n in session.exec(select(Note).where(
            Note.subject.in_(actors)).order_by(Note.id))],
        "peacetime_contacts": _peacetime_contacts(session, ids),
        "acknowledgements": [_row(ic) for ic in session.exec(select(IncidentCommunity).where(
            IncidentCommunity.acknowledged_by.in_(actors)))],
        "timeline": [_row(e) for e in session.exec(select(Event).where(sa.or_(
            Event.actor.in_(actors), Event.kind.in_(("consent.withdrawn", "consent.renewed"))
        )).order_by(Event.id)) if e.actor in actors or e.data.get("contact") in ids],
        "audit": [_row(a, skip=("prev_hash", "hash")) for a in session.exec(
            select(AuditEntry).where(sa.or_(AuditEntry.actor.in_(actors),
                                            AuditEntry.object.in_(actors)))
            .order_by(AuditEntry.id))],
    }


def _peacetime_contacts(session: Session, ids: list[str]) -> list[dict[str, Any]]:
    """The peace-time contacts the person was met at, with their notes."""
    lp = ContactLogPerson.__table__
    logs = list(session.exec(select(ContactLog).where(ContactLog.id.in_(  # type: ignore[union-attr]
        sa.select(lp.c.log_id).where(lp.c.contact_id.in_(ids))))
        .order_by(ContactLog.id)))
    notes = {n.id: n.text for n in session.exec(select(Note).where(Note.id.in_(  # type: ignore[union-attr]
        [log.note_id for log in logs if log.note_id])))} if logs else {}
    return [{**_row(log, skip=("note_id",)), "note": notes.get(log.note_id)} for log in logs]


def _row(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.model_dump().items():
        if key in skip:
            continue
        if isinstance(value, datetime):
            value = iso_z(value)
        elif isinstance(value, date):
            value = value.isoformat()
        out[key] = value
    return out
