"""The auditor: open communities with neither an acknowledgement nor a future step are raised
to the coordinators instead of going quiet."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.audit.events import record
from engine.escalation.cycle import lock_communities
from engine.links.tokens import Links
from engine.oncall.queries import coordinators
from engine.outreach.compose import staff_recipient
from engine.outreach.outbox import Draft, dedupe_key, enqueue
from engine.store.models import Community, Event, Incident, IncidentCommunity, Timer

GRACE = timedelta(minutes=30)


def silent_communities(session: Session, now: datetime, grace: timedelta = GRACE
                       ) -> list[tuple[int, str]]:
    """Open communities of open incidents with no pending step, quiet for longer than `grace`,
    and not raised before."""
    pending = (
        select(Timer.id).where(Timer.incident_id == IncidentCommunity.incident_id,
                               Timer.community_id == IncidentCommunity.community_id,
                               Timer.kind == "escalation", Timer.state == "pending")
    )
    last_fired = (
        select(sa.func.max(Timer.fired_at)).where(
            Timer.incident_id == IncidentCommunity.incident_id,
            Timer.community_id == IncidentCommunity.community_id)
        .scalar_subquery()
    )
    raised = select(Event.id).where(Event.incident_id == IncidentCommunity.incident_id,
                                    Event.community_id == IncidentCommunity.community_id,
                                    Event.kind == "community.silent")
    quiet_since = sa.func.coalesce(last_fired, Incident.declared_at)
    stmt = (
        select(IncidentCommunity.incident_id, IncidentCommunity.community_id,
               Incident.declared_at, last_fired)
        .join(Incident, Incident.id == IncidentCommunity.incident_id)
        .where(Incident.status == "open", IncidentCommunity.status == "open",
               ~sa.exists(pending), quiet_since <= now - grace, ~sa.exists(raised))
        .order_by(IncidentCommunity.incident_id, IncidentCommunity.community_id)
    )
    out = []
    for incident_id, community_id, declared_at, fired_at in session.exec(stmt).all():
        quiet_since = fired_at or declared_at
        if quiet_since is not None and _aware(quiet_since) + grace <= now:
            out.append((incident_id, community_id))
    return out


def _aware(value: datetime) -> datetime:
    from engine.clock import as_utc

    return as_utc(value)


def raise_silent(session: Session, *, now: datetime, links: Links, worker: str) -> int:
    """Tell the coordinators, once per community, which communities went quiet."""
    found = silent_communities(session, now)
    if not found:
        return 0
    # Another worker may be raising the same communities right now. Lock their rows (in the
    # order firing locks them, so no deadlock) and look again: a statement run after the lock
    # was granted sees what the other committed, so only one of two raises a community.
    lock_communities(session, set(found))
    again = set(silent_communities(session, now))
    found = [key for key in found if key in again]
    by_incident: dict[int, list[str]] = {}
    for incident_id, community_id in found:
        by_incident.setdefault(incident_id, []).append(community_id)
        record(session, kind="community.silent", at=now, incident_id=incident_id,
               community_id=community_id, actor=worker)
    for incident_id, community_ids in by_incident.items():
        names = [c.name for c in session.exec(
            select(Community).where(Community.id.in_(community_ids)).order_by(Community.name))]
        for staff in coordinators(session):
            r = staff_recipient(staff)
            if r is None:
                continue
            body = _text(incident_id, names)
            enqueue(session, Draft(
                dedupe_key=dedupe_key(incident_id, r.key, _audit_step(community_ids), r.channel),
                incident_id=incident_id, community_ids=community_ids, recipient_kind="staff",
                recipient_id=staff.id, channel=r.channel, address=r.address, locale="nl",
                body=body, subject=f"Verbinder: incident #{incident_id} niet bereikt / not reached",
                step="audit",
            ), now)
    return len(found)


def _audit_step(community_ids: list[str]) -> str:
    """The step key of raising these communities: by what is raised, never by when, so that
    raising them twice cannot make two messages."""
    digest = hashlib.sha256("\n".join(sorted(community_ids)).encode()).hexdigest()[:24]
    return f"audit:{digest}"


def _text(incident_id: int, names: list[str]) -> str:
    listed = ", ".join(names[:10]) + (f" (+{len(names) - 10})" if len(names) > 10 else "")
    return (
        f"Verbinder, incident #{incident_id}: niet bereikt en geen stap meer gepland: {listed}. "
        f'Neem het over via het dashboard of "verbinder incident ack".\n'
        f"Incident #{incident_id}: not reached and no further step planned: {listed}. "
        f"Please take over."
    )
