"""The escalation cycle: claim due timer rows, fire each once, and turn them into messages.

A due timer is claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers)
and fired in the same transaction that checks, under a row lock on the community, whether the
community was acknowledged meanwhile. A worker that dies mid-cycle holds no claim afterwards:
its transaction rolls back and its locks go with its connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.audit.events import record_many
from engine.links.tokens import Links
from engine.oncall.queries import coordinators, on_call_at
from engine.outreach.compose import (
    Bundle,
    Recipient,
    checklist_contacts,
    compose,
    contact_recipient,
    not_reached,
    select_level,
    staff_recipient,
    stated_needs,
    unrenderable,
)
from engine.outreach.outbox import Draft, enqueue_all
from engine.playbooks.frozen import load_incidents, playbook_of
from engine.store.bulk import any_of, update_rows
from engine.store.models import (
    Community,
    Contact,
    Incident,
    IncidentCommunity,
    Staff,
    Timer,
)
from engine.store.states import CommunityStatus, IncidentStatus, TimerState, check
from playbook.model import STAFF_TARGETS


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did."""

    fired: int = 0
    cancelled: int = 0
    messages: int = 0


def due_timers(session: Session, now: datetime, limit: int) -> list[Any]:
    """Claim pending timers that are due, oldest first, skipping rows other workers hold."""
    table = Timer.__table__
    stmt = (
        sa.select(table)
        .where(table.c.state == TimerState.PENDING, table.c.due_at <= now)
        .order_by(table.c.due_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.connection().execute(stmt))


def lock_communities(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """Lock the incident communities of these timers, in one fixed order (no deadlocks)."""
    if not keys:
        return {}
    table = IncidentCommunity.__table__
    conn = session.connection()
    by_incident: dict[int, list[str]] = {}
    for incident_id, community_id in sorted(keys):
        by_incident.setdefault(incident_id, []).append(community_id)
    stmt = (
        sa.select(table.c.incident_id, table.c.community_id, table.c.status)
        .where(sa.or_(*(sa.and_(table.c.incident_id == i, any_of(conn, table.c.community_id, c))
                        for i, c in by_incident.items())))
        .order_by(table.c.incident_id, table.c.community_id)
        .with_for_update()
    )
    return {(row.incident_id, row.community_id): row for row in conn.execute(stmt).all()}


def step_key(timer: Any) -> str:
    """The step a message belongs to: one message per person per step."""
    if timer.kind == "followup":
        return f"followup:{timer.task_id}"
    if timer.kind == "alert":  # an intake answer's alert: its step is in task_id (need:Q:O)
        return str(timer.task_id)
    return f"esc:r{timer.round}:s{timer.step_index}:{timer.notify}"


def staff_targets(session: Session, notify: str, community: Any | None,
                  now: datetime) -> tuple[list[Any], str | None]:
    """The staff a step goes to, and a note when it went elsewhere than the playbook said."""
    if notify == "liaison":
        liaison = session.get(Staff, community.liaison_id) if community and community.liaison_id \
            else None
        if liaison is not None and liaison.active:
            return [liaison], None
        return coordinators(session), "no_liaison"
    if notify == "oncall":
        on_call = on_call_at(session, now)
        if on_call:
            return on_call, None
        return coordinators(session), "nobody_on_call"
    return coordinators(session), None


def contact_targets(incident: Incident, community_id: str, notify: str,
                    contacts: dict[str, Any]) -> list[Recipient]:
    """The contacts of a community a step goes to, as frozen in the checklist."""
    out = []
    for entry in select_level(checklist_contacts(incident, community_id), notify):
        row = contacts.get(entry["id"])
        if row is None:
            continue
        recipient = contact_recipient(row, entry["channel"], entry.get("language"))
        if recipient is not None:
            out.append(recipient)
    return out


# What recipients and templates use: reading every column (tags, attributes) cost a JSON
# decode per row for nothing.
CONTACT_COLUMNS = ("id", "name", "phone", "email", "active", "priority", "withdrawn_at")
COMMUNITY_COLUMNS = ("id", "name", "kind", "area", "languages", "liaison_id")


@dataclass
class Rows:
    """The registry rows one batch of timers needs, read in two queries."""

    contacts: dict[str, Any]
    communities: dict[str, Any]


def fire_due(
    session: Session, *, now: datetime, links: Links, worker: str, limit: int = 500
) -> CycleReport:
    """Fire every due timer in this session's transaction; the caller commits."""
    timers = due_timers(session, now, limit)
    if not timers:
        return CycleReport()
    community_rows = lock_communities(session, {(t.incident_id, t.community_id) for t in timers})
    incidents = load_incidents(session, (t.incident_id for t in timers))
    rows = preload(session, timers, incidents)
    return _fire(session, timers, community_rows, incidents, rows, now=now, links=links,
                 worker=worker)


def preload(session: Session, timers: list[Any], incidents: dict[int, Incident | None]) -> Rows:
    """Read the contacts and communities of these timers in two queries, not one per timer."""
    wanted = {(t.incident_id, t.community_id) for t in timers}
    contact_ids: set[str] = set()
    for incident in incidents.values():
        for entry in (incident.checklist.get("communities", []) if incident else []):
            if (incident.id, entry["id"]) in wanted:
                contact_ids.update(c["id"] for c in entry.get("contacts", []))
    conn = session.connection()
    contact, community = Contact.__table__, Community.__table__
    contacts = {r.id: r for r in conn.execute(
        sa.select(*(contact.c[c] for c in CONTACT_COLUMNS))
        .where(any_of(conn, contact.c.id, sorted(contact_ids)))).all()} if contact_ids else {}
    communities = {r.id: r for r in conn.execute(
        sa.select(*(community.c[c] for c in COMMUNITY_COLUMNS))
        .where(any_of(conn, community.c.id, sorted({t.community_id for t in timers})))).all()}
    return Rows(contacts, communities)


def _fire(session: Session, timers: list[Any], community_rows: dict[tuple[int, str], Any],
          incidents: dict[int, Incident | None], rows: Rows, *, now: datetime, links: Links,
          worker: str) -> CycleReport:
    bundles: dict[tuple[int, str, str], Bundle] = {}
    notes: dict[tuple[int, str, str], str | None] = {}
    events: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []

    def event(kind: str, timer: Any, **data: Any) -> None:
        events.append({"at": now, "kind": kind, "incident_id": timer.incident_id,
                       "community_id": timer.community_id, "actor": worker,
                       "data": {"timer": timer.id, **data, "step": step_key(timer)}})

    fired = cancelled = 0
    for timer in timers:
        incident = incidents[timer.incident_id]
        community_row = community_rows.get((timer.incident_id, timer.community_id))
        reason = _cancel_reason(incident, community_row, timer)
        if reason:
            changes.append({"id": timer.id, "state": check(timer.state, TimerState.CANCELLED),
                            "fired_at": None, "cancelled_at": now,
                            "claimed_by": timer.claimed_by, "late_seconds": timer.late_seconds})
            event("timer.cancelled", timer, reason=reason)
            cancelled += 1
            continue
        assert incident is not None
        late = max(0.0, (now - timer.due_at).total_seconds())
        changes.append({"id": timer.id, "state": check(timer.state, TimerState.FIRED),
                        "fired_at": now, "cancelled_at": None, "claimed_by": worker,
                        "late_seconds": late})
        recipients, note = _recipients(session, incident, timer, now, rows)
        for r in recipients:
            key = (incident.id, r.key, step_key(timer))
            bundle = bundles.setdefault(key, Bundle(r, timer.template, step_key(timer)))
            if timer.community_id not in bundle.community_ids:
                bundle.community_ids.append(timer.community_id)
            notes[key] = note
        event("timer.fired", timer, notify=timer.notify, late_seconds=round(late, 3),
              recipients=[f"{r.kind}:{r.id}" for r in recipients], note=note)
        if not recipients:
            event("step.no_recipient", timer)
        fired += 1
    conn = session.connection()
    update_rows(conn, Timer.__table__, changes)
    record_many(conn, events)
    messages = _enqueue_bundles(session, bundles, notes, incidents, rows, links, now)
    return CycleReport(fired=fired, cancelled=cancelled, messages=messages)


def _cancel_reason(incident: Incident | None, community_row: Any | None, timer: Any) -> str | None:
    if incident is None or incident.status != IncidentStatus.OPEN:
        return "incident_closed"
    if community_row is None:
        return "unknown_community"
    if timer.kind == "escalation" and community_row.status != CommunityStatus.OPEN:
        return "acknowledged"
    return None


def _recipients(session: Session, incident: Incident, timer: Any, now: datetime,
                rows: Rows) -> tuple[list[Recipient], str | None]:
    if timer.notify in STAFF_TARGETS:
        community = rows.communities.get(timer.community_id)
        staff, note = staff_targets(session, timer.notify, community, now)
        return [r for r in (staff_recipient(s) for s in staff) if r is not None], note
    return contact_targets(incident, timer.community_id, timer.notify, rows.contacts), None


def _enqueue_bundles(session: Session, bundles: dict[tuple[int, str, str], Bundle],
                     notes: dict[tuple[int, str, str], str | None],
                     incidents: dict[int, Incident | None], rows: Rows, links: Links,
                     now: datetime) -> int:
    # Contacts first: a staff message lists the contacts tried for its communities, and after
    # an outage the steps that message them fire in the same batch as the staff step.
    added = 0
    for staff in (False, True):
        drafts = []
        for key, bundle in bundles.items():
            if (bundle.recipient.kind == "staff") is not staff:
                continue
            try:
                drafts.append(_draft(session, key, bundle, notes, incidents, rows, links, now))
            except Exception as exc:  # one message's template must not stop the whole batch
                unrenderable(session, incident_id=key[0], bundle=bundle, error=exc, now=now)
        added += enqueue_all(session, drafts, now)
    return added


def _draft(session: Session, key: tuple[int, str, str], bundle: Bundle,
           notes: dict[tuple[int, str, str], str | None], incidents: dict[int, Incident | None],
           rows: Rows, links: Links, now: datetime) -> Draft:
    incident = incidents[key[0]]
    assert incident is not None
    communities = {c: rows.communities[c] for c in bundle.community_ids if c in rows.communities}
    ordered = [communities[c] for c in bundle.community_ids if c in communities]
    staff_info = (
        not_reached(session, incident, bundle.community_ids, communities)
        if bundle.recipient.kind == "staff" else None
    )
    playbook = playbook_of(incident)
    answers = (stated_needs(session, incident, playbook, bundle.community_ids)
               if bundle.step.startswith("need:") else None)
    return compose(incident=incident, playbook=playbook, bundle=bundle,
                   communities=ordered, links=links, now=now, not_reached=staff_info,
                   escalation_note=notes.get(key), answers=answers)


def next_due(session: Session) -> datetime | None:
    """The due time of the earliest pending timer, for the scheduler to wake at."""
    return session.exec(select(sa.func.min(Timer.due_at))
                        .where(Timer.state == TimerState.PENDING)).one()


def pending_steps(session: Session, incident_id: int) -> dict[str, int]:
    """Pending escalation steps per community of an incident."""
    rows = session.exec(
        select(Timer.community_id, sa.func.count()).where(
            Timer.incident_id == incident_id, Timer.state == TimerState.PENDING,
            Timer.kind == "escalation").group_by(Timer.community_id)
    )
    return dict(rows.all())
