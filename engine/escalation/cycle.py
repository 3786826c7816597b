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
from engine.escalation.roster import coordinators, on_call_at
from engine.incidents.frozen import load_incidents, playbook_of
from engine.outreach.compose import (
    Bundle,
    Links,
    Recipient,
    checklist_contacts,
    compose,
    contact_recipient,
    not_reached,
    select_level,
    staff_recipient,
)
from engine.outreach.outbox import enqueue_all
from engine.store.models import (
    Community,
    Contact,
    Incident,
    IncidentCommunity,
    Staff,
    Timer,
)
from playbook.model import STAFF_TARGETS


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did."""

    fired: int = 0
    cancelled: int = 0
    messages: int = 0


def due_timers(session: Session, now: datetime, limit: int) -> list[Timer]:
    """Claim pending timers that are due, oldest first, skipping rows other workers hold."""
    stmt = (
        select(Timer)
        .where(Timer.state == "pending", Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(stmt))


def lock_communities(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """Lock the incident communities of these timers, in one fixed order (no deadlocks)."""
    if not keys:
        return {}
    stmt = (
        select(IncidentCommunity)
        .where(sa.tuple_(IncidentCommunity.incident_id, IncidentCommunity.community_id).in_(
            sorted(keys)))
        .order_by(IncidentCommunity.incident_id, IncidentCommunity.community_id)
        .with_for_update()
    )
    return {(ic.incident_id, ic.community_id): ic for ic in session.exec(stmt)}


def step_key(timer: Timer) -> str:
    """The step a message belongs to: one message per person per step."""
    if timer.kind == "followup":
        return f"followup:{timer.task_id}"
    return f"esc:r{timer.round}:s{timer.step_index}:{timer.notify}"


def staff_targets(session: Session, notify: str, community: Community | None,
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


def contact_targets(session: Session, incident: Incident, community_id: str,
                    notify: str) -> list[Recipient]:
    """The contacts of a community a step goes to, as frozen in the checklist."""
    out = []
    for entry in select_level(checklist_contacts(incident, community_id), notify):
        row = session.get(Contact, entry["id"])
        if row is None:
            continue
        recipient = contact_recipient(row, entry["channel"], entry.get("language"))
        if recipient is not None:
            out.append(recipient)
    return out


def fire_due(
    session: Session, *, now: datetime, links: Links, worker: str, limit: int = 500
) -> CycleReport:
    """Fire every due timer in this session's transaction; the caller commits."""
    timers = due_timers(session, now, limit)
    if not timers:
        return CycleReport()
    ics = lock_communities(session, {(t.incident_id, t.community_id) for t in timers})
    incidents = load_incidents(session, (t.incident_id for t in timers))
    _loaded = preload(session, timers, incidents)  # held: the session maps rows weakly
    with session.no_autoflush:  # one flush at commit, not one per query in the loop
        return _fire(session, timers, ics, incidents, now=now, links=links, worker=worker)


def preload(session: Session, timers: list[Timer],
            incidents: dict[int, Incident | None]) -> list[Any]:
    """Load the contacts and communities of these timers in two queries, so that firing reads
    them from the session instead of asking the database once per timer."""
    wanted = {(t.incident_id, t.community_id) for t in timers}
    contact_ids: set[str] = set()
    for incident in incidents.values():
        for entry in (incident.checklist.get("communities", []) if incident else []):
            if (incident.id, entry["id"]) in wanted:
                contact_ids.update(c["id"] for c in entry.get("contacts", []))
    rows: list[Any] = []
    if contact_ids:
        rows += session.exec(select(Contact).where(Contact.id.in_(sorted(contact_ids)))).all()
    community_ids = sorted({t.community_id for t in timers})
    rows += session.exec(select(Community).where(Community.id.in_(community_ids))).all()
    return rows


def _fire(session: Session, timers: list[Timer], ics: dict[tuple[int, str], Any],
          incidents: dict[int, Incident | None], *, now: datetime, links: Links,
          worker: str) -> CycleReport:
    bundles: dict[tuple[int, str, str], Bundle] = {}
    notes: dict[tuple[int, str, str], str | None] = {}
    events: list[dict[str, Any]] = []

    def event(kind: str, timer: Timer, **data: Any) -> None:
        events.append({"at": now, "kind": kind, "incident_id": timer.incident_id,
                       "community_id": timer.community_id, "actor": worker,
                       "data": {"timer": timer.id, **data, "step": step_key(timer)}})

    fired = cancelled = 0
    for timer in timers:
        incident = incidents[timer.incident_id]
        ic = ics.get((timer.incident_id, timer.community_id))
        reason = _cancel_reason(incident, ic, timer)
        if reason:
            timer.state, timer.fired_at = "cancelled", now
            event("timer.cancelled", timer, reason=reason)
            cancelled += 1
            continue
        late = max(0.0, (now - timer.due_at).total_seconds())
        timer.state, timer.fired_at, timer.claimed_by = "fired", now, worker
        timer.late_seconds = late
        recipients, note = _recipients(session, incident, timer, now)
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
    record_many(session.connection(), events)
    messages = _enqueue_bundles(session, bundles, notes, incidents, links, now)
    return CycleReport(fired=fired, cancelled=cancelled, messages=messages)


def _cancel_reason(incident: Incident | None, ic: IncidentCommunity | None,
                   timer: Timer) -> str | None:
    if incident is None or incident.status != "open":
        return "incident_closed"
    if ic is None:
        return "unknown_community"
    if timer.kind == "escalation" and ic.status != "open":
        return "acknowledged"
    return None


def _recipients(session: Session, incident: Incident, timer: Timer,
                now: datetime) -> tuple[list[Recipient], str | None]:
    if timer.notify in STAFF_TARGETS:
        community = session.get(Community, timer.community_id)
        staff, note = staff_targets(session, timer.notify, community, now)
        return [r for r in (staff_recipient(s) for s in staff) if r is not None], note
    return contact_targets(session, incident, timer.community_id, timer.notify), None


def _enqueue_bundles(session: Session, bundles: dict[tuple[int, str, str], Bundle],
                     notes: dict[tuple[int, str, str], str | None],
                     incidents: dict[int, Incident | None], links: Links, now: datetime) -> int:
    drafts = []
    for key, bundle in bundles.items():
        incident = incidents[key[0]]
        assert incident is not None
        communities = {c: row for c in bundle.community_ids
                       if (row := session.get(Community, c)) is not None}
        ordered = [communities[c] for c in bundle.community_ids if c in communities]
        staff_info = (
            not_reached(session, incident, bundle.community_ids, communities)
            if bundle.recipient.kind == "staff" else None
        )
        drafts.append(compose(incident=incident, playbook=playbook_of(incident), bundle=bundle,
                              communities=ordered, links=links, now=now,
                              not_reached=staff_info, escalation_note=notes.get(key)))
    return enqueue_all(session, drafts, now)


def next_due(session: Session) -> datetime | None:
    """The due time of the earliest pending timer, for the scheduler to wake at."""
    return session.exec(select(sa.func.min(Timer.due_at)).where(Timer.state == "pending")).one()


def pending_steps(session: Session, incident_id: int) -> dict[str, int]:
    """Pending escalation steps per community of an incident."""
    rows = session.exec(
        select(Timer.community_id, sa.func.count()).where(
            Timer.incident_id == incident_id, Timer.state == "pending",
            Timer.kind == "escalation").group_by(Timer.community_id)
    )
    return dict(rows.all())
