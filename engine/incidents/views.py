"""What a coordinator sees of incidents: the list, and one incident with its reach and timeline."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, select

from engine.audit.events import timeline
from engine.clock import iso_z
from engine.incidents.flows import get_incident
from engine.privacy.texts import timeline_texts
from engine.store.models import (
    Community,
    Event,
    Incident,
    IncidentCommunity,
    IncidentTask,
    IntakeAnswer,
    Message,
    Timer,
)

# How a message's state reads to a coordinator. `ambiguous` is said plainly: unknown.
STATE_WORDS = {
    "pending": "queued", "claimed": "queued", "sending": "sending", "accepted": "sent",
    "delivered": "delivered", "failed_temp": "retrying", "failed_perm": "failed",
    "ambiguous": "unknown", "cancelled": "cancelled",
}
FAILURES = ("message.failed_temp", "message.failed_perm")
SENDS = ("message.accepted", *FAILURES)


def list_incidents(session: Session) -> list[dict[str, Any]]:
    """Incidents, newest first."""
    rows = session.exec(select(Incident).order_by(Incident.declared_at.desc(), Incident.id.desc()))
    out = []
    for i in rows:
        community_rows = list(session.exec(select(IncidentCommunity).where(
            IncidentCommunity.incident_id == i.id)))
        out.append({
            "id": i.id, "type": i.type, "title": i.title, "severity": i.severity,
            "status": i.status, "exercise": i.exercise, "declared_at": iso_z(i.declared_at),
            "closed_at": iso_z(i.closed_at) if i.closed_at else None,
            "communities": len(community_rows),
            "reached": sum(1 for c in community_rows if c.status == "acknowledged"),
        })
    return out


def channel_health(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per channel: sends, failures, and whether its latest attempts all failed."""
    health: dict[str, dict[str, Any]] = {}
    recent: dict[str, list[bool]] = defaultdict(list)
    for e in events:
        if e.kind not in SENDS or e.data.get("detail") == "opted out":
            continue
        channel = e.data.get("channel", "?")
        h = health.setdefault(channel, {"accepted": 0, "failed": 0, "failing": False})
        ok = e.kind == "message.accepted"
        h["accepted" if ok else "failed"] += 1
        recent[channel].append(ok)
    for channel, outcomes in recent.items():
        last = outcomes[-3:]
        health[channel]["failing"] = (len(last) == 3 and not any(last)) or (
            bool(outcomes) and not any(outcomes))
    return health


def show_incident(session: Session, incident_id: int) -> dict[str, Any]:
    """One incident: per community its reach status, messages, tasks, and the timeline."""
    incident = get_incident(session, incident_id)
    events = timeline(session, incident_id)
    messages = list(session.exec(select(Message).where(Message.incident_id == incident_id)
                                 .order_by(Message.id)))
    tasks = list(session.exec(select(IncidentTask).where(IncidentTask.incident_id == incident_id)
                              .order_by(IncidentTask.due_at, IncidentTask.id)))
    timers = list(session.exec(select(Timer).where(Timer.incident_id == incident_id,
                                                   Timer.state == "pending")
                               .order_by(Timer.due_at)))
    answers = list(session.exec(select(IntakeAnswer).where(
        IntakeAnswer.incident_id == incident_id, IntakeAnswer.replaced_at.is_(None))
        .order_by(IntakeAnswer.at)))
    texts = timeline_texts(session, events)
    community_rows = list(session.exec(select(IncidentCommunity).where(
        IncidentCommunity.incident_id == incident_id)))
    names = {c.id: c.name for c in session.exec(select(Community).where(
        Community.id.in_([r.community_id for r in community_rows])))}
    order = {c["id"]: n for n, c in enumerate(incident.checklist.get("communities", []))}
    communities = [
        _community(row, names.get(row.community_id, row.community_id), messages, tasks, timers,
                   answers)
        for row in sorted(community_rows, key=lambda r: order.get(r.community_id, 10**9))
    ]
    return {
        "incident": {
            "id": incident.id, "type": incident.type, "title": incident.title,
            "severity": incident.severity, "area": incident.area, "status": incident.status,
            "exercise": incident.exercise, "declared_at": iso_z(incident.declared_at),
            "closed_at": iso_z(incident.closed_at) if incident.closed_at else None,
            "playbook": incident.checklist.get("incident", {}).get("playbook"),
        },
        "summary": {
            "communities": len(community_rows),
            "reached": sum(1 for c in community_rows if c.status == "acknowledged"),
            "open": sum(1 for c in community_rows if c.status == "open"),
            "messages": _count_states(messages),
            "unknown": sum(1 for m in messages if m.state == "ambiguous"),
        },
        "channels": channel_health(events),
        "incident_tasks": [_task(t) for t in tasks if t.community_id == ""],
        "communities": communities,
        "timeline": [
            {"at": iso_z(e.at), "kind": e.kind, "community": e.community_id, "actor": e.actor,
             **{k: v for k, v in texts[e.id].items() if v is not None}}
            for e in events
        ],
    }


def _count_states(messages: list[Message]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in messages:
        word = STATE_WORDS.get(m.state, m.state)
        counts[word] = counts.get(word, 0) + 1
    return counts


def _task(t: IncidentTask) -> dict[str, Any]:
    return {"id": t.task_id, "kind": t.kind, "due": iso_z(t.due_at),
            "done_at": iso_z(t.done_at) if t.done_at else None, "done_by": t.done_by}


def _community(row: IncidentCommunity, name: str, messages: list[Message],
               tasks: list[IncidentTask], timers: list[Timer],
               answers: list[IntakeAnswer]) -> dict[str, Any]:
    mine = [m for m in messages if row.community_id in m.community_ids]
    return {
        "id": row.community_id, "name": name, "role": row.role, "escalation": row.escalation,
        "status": row.status,
        "acknowledged_at": iso_z(row.acknowledged_at) if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by, "taken_over_by": row.taken_over_by,
        "messages": [
            {"id": m.id, "to": f"{m.recipient_kind}:{m.recipient_id}", "channel": m.channel,
             "step": m.step, "state": STATE_WORDS.get(m.state, m.state), "detail": m.detail}
            for m in mine
        ],
        "tasks": [_task(t) for t in tasks if t.community_id == row.community_id],
        "next_step": (
            {"due": iso_z(t.due_at), "notify": t.notify}
            if (t := next((t for t in timers if t.community_id == row.community_id
                           and (t.kind == "followup" or row.status == "open")), None))
            else None
        ),
        "intake": [{"at": iso_z(a.at), "by": a.contact_id, "answers": a.answers,
                    "source": a.source} for a in answers if a.community_id == row.community_id],
    }
