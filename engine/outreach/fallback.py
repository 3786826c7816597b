"""When a message fails for good: the other channel, else the next contact of the community."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from engine.audit.events import record
from engine.links.tokens import Links
from engine.outreach.compose import (
    Bundle,
    Recipient,
    address_for,
    checklist_contacts,
    compose,
    contact_recipient,
    not_reached,
    other_channel,
    unrenderable,
)
from engine.outreach.outbox import enqueue
from engine.playbooks.frozen import playbook_of
from engine.store.models import (
    Community,
    Contact,
    Incident,
    IncidentCommunity,
    Message,
    OptOut,
    Staff,
)
from engine.store.states import CommunityStatus, IncidentStatus

# What the dispatcher, settling and inbound statuses call when a message failed for good, in
# the transaction that recorded the failure (`fall_back` with its links, from engine.wiring).
FallbackHook = Callable[[Session, Message, datetime], None]


def fall_back(session: Session, failed: Message, now: datetime, *, links: Links) -> None:
    """Queue the fallback of a message that failed permanently, in the same transaction."""
    incident = session.get(Incident, failed.incident_id) if failed.incident_id else None
    if incident is None or incident.status != IncidentStatus.OPEN or not failed.template:
        return
    person = _person(session, failed)
    other = other_channel(failed.channel)
    address = address_for(other, person.phone, person.email) if person else None
    if person and address and session.get(OptOut, (address, other)) is None \
            and getattr(person, "withdrawn_at", None) is None:
        r = Recipient(failed.recipient_kind, person.id, person.name, other, address,
                      _language(incident, failed))
        if _queue(session, incident, failed, [r], failed.step, links, now):
            record(session, kind="message.fallback", at=now, incident_id=incident.id,
                   actor="system", message=failed.id, to_channel=other,
                   recipient=f"{r.kind}:{r.id}")
        return
    if failed.recipient_kind != "contact":
        record(session, kind="message.unreachable", at=now, incident_id=incident.id,
               actor="system", message=failed.id, recipient=f"staff:{failed.recipient_id}")
        return
    _next_contacts(session, incident, failed, person, links, now)


def _person(session: Session, m: Message) -> Contact | Staff | None:
    return session.get(Contact if m.recipient_kind == "contact" else Staff, m.recipient_id)


def _language(incident: Incident, m: Message) -> str | None:
    for cid in m.community_ids:
        for c in checklist_contacts(incident, cid):
            if c["id"] == m.recipient_id:
                return c.get("language")
    return m.locale


def _next_contacts(session: Session, incident: Incident, failed: Message,
                   person: Contact | Staff | None, links: Links, now: datetime) -> None:
    priority = person.priority if isinstance(person, Contact) else 0
    recipients: list[Recipient] = []
    communities = []
    for cid in failed.community_ids:
        community_row = session.get(IncidentCommunity, (incident.id, cid))
        if community_row is None or community_row.status != CommunityStatus.OPEN:
            continue
        contacts = checklist_contacts(incident, cid)
        later = sorted({c["priority"] for c in contacts if c["priority"] > priority})
        if not later:
            continue
        communities.append(cid)
        for entry in (c for c in contacts if c["priority"] == later[0]):
            row = session.get(Contact, entry["id"])
            r = contact_recipient(row, entry["channel"], entry.get("language")) if row else None
            if r is not None:
                recipients.append(r)
    queued = _queue(session, incident, failed, recipients, f"{failed.step}:next", links, now,
                    communities)
    record(session, kind="message.fallback" if queued else "message.unreachable", at=now,
           incident_id=incident.id, actor="system", message=failed.id,
           to=[f"{r.kind}:{r.id}" for r in recipients], reason="next_contact")


def _queue(session: Session, incident: Incident, failed: Message, recipients: list[Recipient],
           step: str, links: Links, now: datetime, community_ids: list[str] | None = None) -> int:
    ids = community_ids if community_ids is not None else list(failed.community_ids)
    rows = {c.id: c for c in (session.get(Community, i) for i in ids) if c is not None}
    ordered = [rows[i] for i in ids if i in rows]
    added = 0
    for r in recipients:
        bundle = Bundle(r, failed.template or "", step, list(ids))
        staff_info = not_reached(session, incident, ids, rows) if r.kind == "staff" else None
        try:
            draft = compose(incident=incident, playbook=playbook_of(incident),
                            bundle=bundle, communities=ordered, links=links, now=now,
                            not_reached=staff_info)
        except Exception as exc:  # one message's template must not stop the fallback
            unrenderable(session, incident_id=incident.id, bundle=bundle, error=exc, now=now)
            continue
        added += enqueue(session, draft, now)
    return added
