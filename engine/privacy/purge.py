"""Erasing personal data past its retention, keeping the anonymous record (GDPR Art. 5(1)(e)).

What is due (docs/PRIVACY.md):
- a contact whose consent was withdrawn `withdrawn_days` ago, or that has been inactive
  (left out of the registry) for `inactive_days`; a staff member inactive that long: name,
  role, phone and email, and everything that carries them: their messages' addresses and
  bodies (once no provider may still be asked about them), their intake answers' free text,
  their replies, the notes about them, their links, and their names in incidents' frozen
  checklists;
- an incident closed `closed_months` ago: the addresses and bodies of all its messages, the
  free text of its intake answers, its replies and notes, its links, and the contacts' names in
  its checklist.

Kept: the ids (`contact:p3`), the events, states, times, counts and chosen needs, so every
figure of a report stays the same. One transaction: all or nothing. Rows carry `erased_at`, so
a second purge finds nothing left to do.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.audit.events import record
from engine.audit.log import append
from engine.clock import iso_z
from engine.errors import InputError
from engine.playbooks.frozen import playbook_of
from engine.store.models import (
    Contact,
    ContactLogPerson,
    Incident,
    IntakeAnswer,
    IntakeToken,
    Message,
    Note,
    Reply,
    Staff,
)
from engine.store.states import IncidentStatus, MessageState

# Intake questions whose answers are choices the form offers, not text a person wrote.
KEPT_ANSWERS = ("choice", "multi", "bool")
# A message a provider may still be asked about (engine/outreach/settle.py asks for two days).
SETTLING = timedelta(days=2)
ERASED = ""  # what a name, an address or a body becomes


@dataclass(frozen=True)
class Retention:
    """How long personal data is kept."""

    withdrawn_days: int = 30
    inactive_days: int = 365
    closed_months: int = 12

    @classmethod
    def from_settings(cls, settings: Any) -> Retention:
        """The retention settings (config/settings.py)."""
        return cls(settings.retention_withdrawn_days, settings.retention_inactive_days,
                   settings.retention_closed_months)

    def as_dict(self) -> dict[str, int]:
        """JSON-ready."""
        return {"withdrawn_days": self.withdrawn_days, "inactive_days": self.inactive_days,
                "closed_months": self.closed_months}


@dataclass
class PurgeReport:
    """What a purge erased (or, in a dry run, would erase)."""

    dry_run: bool
    at: datetime
    retention: Retention
    contacts: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def erased(self) -> int:
        """Rows erased (or to erase) in all."""
        return len(self.contacts) + len(self.staff) + len(self.incidents) + sum(
            self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        """The `purge --json` document."""
        return {"dry_run": self.dry_run, "at": iso_z(self.at),
                "retention": self.retention.as_dict(), "contacts": self.contacts,
                "staff": self.staff, "incidents": self.incidents, "counts": self.counts}


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a short one)."""
    year, month = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + year, month + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class _Due:
    """The WHERE clauses of what is due, as subqueries (no id lists: any size)."""

    contacts: Any
    staff: Any
    incidents: Any
    settled: Any
    # notes of peace-time contacts (subject `contactlog:ID`) older than this are erased too
    contact_notes_before: datetime | None = None


def _due(now: datetime, retention: Retention, at_once: Sequence[str] = ()) -> _Due:
    c, s, i, m = (Contact.__table__, Staff.__table__, Incident.__table__,
                  Message.__table__)
    inactive_since = now - timedelta(days=retention.inactive_days)
    contacts = c.c.erased_at.is_(None) & (
        (c.c.withdrawn_at <= now - timedelta(days=retention.withdrawn_days))
        | (~c.c.active & (c.c.updated_at.is_(None) | (c.c.updated_at <= inactive_since)))
        | c.c.id.in_(list(at_once)))
    staff = s.c.erased_at.is_(None) & ~s.c.active & (
        s.c.updated_at.is_(None) | (s.c.updated_at <= inactive_since))
    incidents = i.c.erased_at.is_(None) & (i.c.status == IncidentStatus.CLOSED) & (
        i.c.closed_at <= months_before(now, retention.closed_months))
    settled = m.c.state.in_((MessageState.ACCEPTED, MessageState.DELIVERED,
                             MessageState.FAILED_PERM, MessageState.CANCELLED)) | (
        (m.c.state == MessageState.AMBIGUOUS) & (m.c.ambiguous_at <= now - SETTLING))
    return _Due(contacts, staff, incidents, settled,
                contact_notes_before=months_before(now, retention.closed_months))


def purge(session: Session, *, now: datetime, retention: Retention, dry_run: bool = False,
          contacts: Sequence[str] = ()) -> PurgeReport:
    """Erase (or count, in a dry run) what is past retention, in the caller's transaction;
    `contacts` (withdrawn or inactive ones: an erasure request) are erased now too."""
    _check_erasable(session, contacts)
    due = _due(now, retention, contacts)
    conn = session.connection()
    c, s, i = Contact.__table__, Staff.__table__, Incident.__table__
    report = PurgeReport(dry_run, now, retention)
    report.contacts = list(conn.execute(sa.select(c.c.id).where(due.contacts)
                                        .order_by(c.c.id)).scalars())
    report.staff = list(conn.execute(sa.select(s.c.id).where(due.staff)
                                     .order_by(s.c.id)).scalars())
    report.incidents = list(conn.execute(sa.select(i.c.id).where(due.incidents)
                                         .order_by(i.c.id)).scalars())
    wheres = _dependants(due)
    for name, (table, where) in wheres.items():
        report.counts[name] = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
    report.counts["checklists"] = len(_checklists(session, report, erase=False))
    if dry_run:
        return report
    _erase(session, due, wheres, report)
    return report


def _check_erasable(session: Session, contacts: Sequence[str]) -> None:
    """An erasure request names contacts that exist and no longer take part."""
    problems = []
    for contact_id in contacts:
        row = session.get(Contact, contact_id)
        shown = contact_id if len(contact_id) <= 80 else contact_id[:80] + "…"
        if row is None:
            problems.append(f"--contact {shown}: no such contact / onbekende contactpersoon")
        elif row.active and row.withdrawn_at is None:
            problems.append(f"--contact {shown}: still taking part; record the withdrawal "
                            f"first (verbinder registry withdraw {shown}) / neemt nog deel")
    if problems:
        raise InputError(problems)


def _dependants(due: _Due) -> dict[str, tuple[Any, Any]]:
    """The rows that carry the due persons' or incidents' personal data, by kind."""
    c, s, i = Contact.__table__, Staff.__table__, Incident.__table__
    m, a, r, n, t = (Message.__table__, IntakeAnswer.__table__, Reply.__table__,
                     Note.__table__, IntakeToken.__table__)
    contact_ids = sa.select(c.c.id).where(due.contacts)
    staff_ids = sa.select(s.c.id).where(due.staff)
    incident_ids = sa.select(i.c.id).where(due.incidents)
    persons = sa.select(sa.literal("contact:") + c.c.id).where(due.contacts).union(
        sa.select(sa.literal("staff:") + s.c.id).where(due.staff))
    return {
        "messages": (m, m.c.erased_at.is_(None) & (
            m.c.incident_id.in_(incident_ids)
            | (due.settled & (((m.c.recipient_kind == "contact") & m.c.recipient_id.in_(
                contact_ids)) | ((m.c.recipient_kind == "staff")
                                 & m.c.recipient_id.in_(staff_ids)))))),
        "intake_answers": (a, a.c.erased_at.is_(None) & (
            a.c.incident_id.in_(incident_ids) | a.c.contact_id.in_(contact_ids))),
        "replies": (r, r.c.erased_at.is_(None) & (
            r.c.incident_id.in_(incident_ids) | r.c.sender.in_(persons))),
        "notes": (n, n.c.erased_at.is_(None) & (
            n.c.incident_id.in_(incident_ids) | n.c.subject.in_(persons)
            | _contact_log_notes(n, contact_ids, due.contact_notes_before))),
        "links": (t, t.c.incident_id.in_(incident_ids) | (
            (t.c.recipient_kind == "contact") & t.c.recipient_id.in_(contact_ids))
            | ((t.c.recipient_kind == "staff") & t.c.recipient_id.in_(staff_ids))),
    }


def _contact_log_notes(n: Any, contact_ids: Any, before: datetime | None) -> Any:
    """Notes of peace-time contacts: with a person being erased, or past the closed term."""
    lp = ContactLogPerson.__table__
    met = sa.select(sa.literal("contactlog:") + sa.cast(lp.c.log_id, sa.String)).where(
        lp.c.contact_id.in_(contact_ids))
    old = n.c.subject.like("contactlog:%") & (n.c.at <= before) if before is not None \
        else sa.false()
    return n.c.subject.in_(met) | old


def _erase(session: Session, due: _Due, wheres: dict[str, tuple[Any, Any]],
           report: PurgeReport) -> None:
    """Erase the dependants first (their WHERE clauses read the persons still due), then the
    persons and incidents; record the purge on the timeline and in the audit log."""
    now = report.at
    conn = session.connection()
    m, where = wheres["messages"]
    conn.execute(sa.update(m).where(where).values(
        address=ERASED, subject=None, body=ERASED, html=None, erased_at=now,
        # the key holds the address (a person is an address): erased too
        dedupe_key=sa.literal("erased:") + sa.cast(m.c.id, sa.String)))
    _erase_answers(session, wheres["intake_answers"][1], now)
    for name in ("replies", "notes"):
        table, where = wheres[name]
        conn.execute(sa.update(table).where(where).values(text=ERASED, erased_at=now))
    table, where = wheres["links"]
    conn.execute(sa.delete(table).where(where))
    _checklists(session, report, erase=True)
    c, s, i = Contact.__table__, Staff.__table__, Incident.__table__
    conn.execute(sa.update(c).where(due.contacts).values(
        name=ERASED, role=None, phone=None, email=None, active=False, erased_at=now))
    conn.execute(sa.update(s).where(due.staff).values(
        name=ERASED, phone=None, email=None, erased_at=now))
    conn.execute(sa.update(i).where(due.incidents).values(erased_at=now))
    details = {"contacts": len(report.contacts), "staff": len(report.staff),
               "incidents": report.incidents[:50], **report.counts,
               "retention": report.retention.as_dict()}
    record(session, kind="privacy.purged", at=now, actor="system", **details)
    for incident_id in report.incidents:
        record(session, kind="incident.purged", at=now, incident_id=incident_id,
               actor="system", closed_months=report.retention.closed_months)
    append(session, action="purge", object="store", at=now, details=details)


def _erase_answers(session: Session, where: Any, now: datetime) -> None:
    """Free-text answers go; the choices (the needs a community stated) stay."""
    kinds: dict[tuple[int, str], dict[str, str]] = {}
    for answer in session.exec(select(IntakeAnswer).where(where)):
        key = (answer.incident_id, answer.form_id)
        if key not in kinds:
            kinds[key] = _question_types(session, *key)
        types = kinds[key]
        answer.answers = {k: v for k, v in answer.answers.items()
                          if types.get(k) in KEPT_ANSWERS}
        answer.link, answer.erased_at = None, now
    session.flush()


def _question_types(session: Session, incident_id: int, form_id: str) -> dict[str, str]:
    incident = session.get(Incident, incident_id)
    form = playbook_of(incident).intake_forms.get(form_id) if incident else None
    return {q.id: q.type for q in form.questions} if form else {}


def _checklists(session: Session, report: PurgeReport, *, erase: bool) -> list[int]:
    """The incidents whose frozen checklist names a person to erase; with `erase`, the names
    are blanked and the checklist gets a new key (in-process caches read it again)."""
    contacts = set(report.contacts)
    closed = set(report.incidents)
    if not contacts and not closed:
        return []
    stmt = select(Incident).where(Incident.erased_at.is_(None))
    if not contacts:
        stmt = stmt.where(Incident.id.in_(sorted(closed)))
    touched = []
    for incident in session.exec(stmt.order_by(Incident.id)):
        doc, changed = _blank_names(incident.checklist, None if incident.id in closed
                                    else contacts)
        if not changed:
            continue
        touched.append(incident.id)
        if erase:
            incident.checklist, incident.checklist_key = doc, uuid.uuid4().hex
    session.flush()
    return touched


def _blank_names(checklist: dict[str, Any], only: set[str] | None) -> tuple[dict[str, Any],
                                                                          bool]:
    """The checklist with the contacts' names blanked (all, or those in `only`)."""
    changed = False
    communities = []
    for entry in checklist.get("communities", []):
        contacts = []
        for contact in entry.get("contacts", []):
            if contact.get("name") and (only is None or contact.get("id") in only):
                contact = {**contact, "name": ERASED}
                changed = True
            contacts.append(contact)
        communities.append({**entry, "contacts": contacts})
    return {**checklist, "communities": communities}, changed
