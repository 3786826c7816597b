"""The call sheet: per community, in checklist order, whom to call, on which number, what is
already known, and a script in the contact's language. For a crisis room without network:
one self-contained page set, printed on A4. It holds personal data by nature."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.playbooks.frozen import playbook_of
from engine.reports.evaluation import Head, head_of, load_incident
from engine.reports.privacy import chosen_options, free_texts
from engine.reports.scripts import script_language
from engine.store.bulk import any_of
from engine.store.models import (
    Community,
    Contact,
    IncidentCommunity,
    IntakeAnswer,
    OptOut,
    Staff,
)
from playbook.model import Playbook


@dataclass
class SheetPerson:
    """Someone to call: a contact of the community or staff."""

    name: str
    phone: str | None
    email: str | None = None
    role: str | None = None
    priority: int | None = None
    channel: str | None = None
    language: str | None = None
    sms_stopped: bool = False


@dataclass
class SheetCommunity:
    """One community's block on the sheet."""

    id: str
    name: str
    role: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    liaison: SheetPerson | None
    contacts: list[SheetPerson]
    needs: list[tuple[str, str, str]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    script_languages: list[str] = field(default_factory=list)


@dataclass
class CallSheet:
    """The whole sheet."""

    head: Head
    playbook: Playbook
    communities: list[SheetCommunity]
    on_call: list[SheetPerson]
    generated_at: datetime


def readable_phone(number: str | None) -> str | None:
    """A stored E.164 number as it is dialled: national for Dutch numbers, else international."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, "NL")
    except phonenumbers.NumberParseException:
        return number
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == 31
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, style)


def callable_contact(row: Any) -> bool:
    """Whether a contact may be called now: active, with consent on record, not withdrawn."""
    return bool(row.active) and row.consent is not None and row.withdrawn_at is None


def assemble_callsheet(conn: Connection, incident_id: int, *, now: datetime) -> CallSheet:
    """The call sheet of an incident, from the checklist and the registry as it is now."""
    incident = load_incident(conn, incident_id)
    playbook = playbook_of(incident)
    items = incident.checklist.get("communities", [])
    contact_ids = [c["id"] for item in items for c in item.get("contacts", [])]
    contacts = _rows(conn, Contact.__table__, contact_ids)
    communities = _rows(conn, Community.__table__, [i["id"] for i in items])
    staff = _rows(conn, Staff.__table__, sorted({r.liaison_id for r in communities.values()
                                                 if r.liaison_id}))
    stopped = {r.address for r in conn.execute(
        sa.select(OptOut.__table__.c.address).where(OptOut.__table__.c.channel == "sms"))}
    status = {r.community_id: r for r in conn.execute(
        sa.select(IncidentCommunity.__table__).where(
            IncidentCommunity.__table__.c.incident_id == incident_id))}
    names = {**{f"contact:{k}": v.name for k, v in contacts.items()},
             **{f"staff:{k}": v.name for k, v in staff.items()}}
    sheet = []
    for item in items:
        sheet.append(_community(item, communities.get(item["id"]), status.get(item["id"]),
                                contacts, staff, stopped, names, playbook.default_locale))
    _add_answers(conn, incident_id, {c.id: c for c in sheet}, playbook)
    return CallSheet(head=head_of(incident, playbook), playbook=playbook, communities=sheet,
                     on_call=_on_call(conn, now), generated_at=now)


def _rows(conn: Connection, table: sa.Table, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    return {r.id: r for r in conn.execute(sa.select(table).where(
        any_of(conn, table.c.id, sorted(set(ids)))))}


def _community(item: dict[str, Any], row: Any, state: Any, contacts: dict[str, Any],
               staff: dict[str, Any], stopped: set[str], names: dict[str, str],
               default_locale: str) -> SheetCommunity:
    people = []
    for c in item.get("contacts", []):
        r = contacts.get(c["id"])
        if r is None or not callable_contact(r):
            continue
        people.append(SheetPerson(
            name=r.name, phone=readable_phone(r.phone), email=r.email, role=r.role,
            priority=r.priority, channel=c.get("channel") or r.channel,
            language=r.language or c.get("language"),
            sms_stopped=bool(r.phone and r.phone in stopped)))
    liaison = None
    if row is not None and row.liaison_id in staff:
        s = staff[row.liaison_id]
        liaison = SheetPerson(name=s.name, phone=readable_phone(s.phone), email=s.email)
    languages = list(row.languages) if row is not None else []
    scripts = list(dict.fromkeys(script_language([p.language, *languages], default_locale)
                                 for p in people)) or [script_language(languages,
                                                                       default_locale)]
    by = state.acknowledged_by if state is not None else None
    return SheetCommunity(
        id=item["id"], name=item.get("name", item["id"]), role=item.get("role", ""),
        acknowledged_at=state.acknowledged_at if state is not None else None,
        acknowledged_by=names.get(by or "", by), liaison=liaison, contacts=people,
        script_languages=scripts)


def _add_answers(conn: Connection, incident_id: int, sheet: dict[str, SheetCommunity],
                 playbook: Playbook) -> None:
    t = IntakeAnswer.__table__
    for r in conn.execute(sa.select(t.c.community_id, t.c.form_id, t.c.answers)
                          .where(t.c.incident_id == incident_id).order_by(t.c.at, t.c.id)):
        block = sheet.get(r.community_id)
        if block is None:
            continue
        form = playbook.intake_forms.get(r.form_id)
        for qid, oid in chosen_options(r.answers or {}, form):
            if (r.form_id, qid, oid) not in block.needs:
                block.needs.append((r.form_id, qid, oid))
        block.remarks += [text[:500] for text in free_texts(r.answers or {}, form)]


def _on_call(conn: Connection, now: datetime) -> list[SheetPerson]:
    from engine.oncall.queries import on_call_at

    return [SheetPerson(name=s.name, phone=readable_phone(s.phone), email=s.email)
            for s in on_call_at(conn, now)]
