"""What a coordinator sees of incidents: the list, and one incident with its reach and timeline."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session, select

from engine.audit.events import timeline
from engine.clock import iso_z
from engine.incidents.flows import get_incident
from engine.playbooks.frozen import playbook_of
from engine.privacy.texts import timeline_texts
from engine.store.models import (
    Community,
    Contact,
    Event,
    Incident,
    IncidentCommunity,
    IncidentTask,
    IntakeAnswer,
    Message,
    Staff,
    Timer,
)
from playbook.answers import answers_in_words

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
            "reached": sum(1 for c in community_rows if reach_of(c) == "reached"),
            "taken_over": sum(1 for c in community_rows if reach_of(c) == "taken_over"),
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


def reach_of(row: IncidentCommunity) -> str:
    """How far a community was reached: `reached` (one of its own contacts answered, or staff
    marked it reached), `taken_over` (an alerted staff member took it over: its own contacts
    were not reached), or `open`."""
    if row.status == "open":
        return "open"
    return "taken_over" if row.taken_over_by else "reached"


def show_incident(session: Session, incident_id: int, now: datetime | None = None
                  ) -> dict[str, Any]:
    """One incident: per community its reach status, messages, tasks (with title, owner,
    deadline, done or overdue at `now`), what it answered, and the timeline; the replies that
    matched nothing at the end."""
    incident = get_incident(session, incident_id)
    playbook = _playbook(incident)
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
    liaisons = _liaisons(session, [r.community_id for r in community_rows])
    notes = _task_notes(events, texts)
    task_doc = partial(_task, playbook=playbook, now=now, notes=notes)
    communities = [
        _community(row, names.get(row.community_id, row.community_id), messages, tasks, timers,
                   answers, task_doc=partial(task_doc, liaison=liaisons.get(row.community_id)),
                   playbook=playbook)
        for row in sorted(community_rows, key=lambda r: order.get(r.community_id, 10**9))
    ]
    reach = [reach_of(r) for r in community_rows]
    return {
        "incident": {**incident_head(incident),
                     "timezone": playbook.timezone if playbook is not None else None},
        "summary": {
            "communities": len(community_rows),
            "reached": reach.count("reached"),
            "taken_over": reach.count("taken_over"),
            "open": reach.count("open"),
            "tasks_open": sum(1 for t in tasks if t.done_at is None),
            "tasks_overdue": sum(1 for t in tasks if _overdue(t, now)),
            "messages": _count_states(messages),
            "unknown": sum(1 for m in messages if m.state == "ambiguous"),
        },
        "channels": channel_health(events),
        "incident_tasks": [task_doc(t, liaison=None) for t in tasks if t.community_id == ""],
        "communities": communities,
        "unmatched_replies": unmatched_replies(session, events, texts),
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


def unmatched_replies(session: Session, events: list[Event],
                      texts: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Replies that were no keyword: who, which communities (a reply after the community was
    reached names none of its own, so the sender's community is named), and the text."""
    replies = [e for e in events if e.kind == "inbound.reply"]
    senders = {e.actor.removeprefix("contact:") for e in replies
               if e.actor.startswith("contact:")}
    home = dict(session.exec(select(Contact.id, Contact.community_id).where(
        Contact.id.in_(sorted(senders)))).all()) if senders else {}
    return [
        {"at": iso_z(e.at), "by": e.actor,
         "communities": e.data.get("communities") or (
             [home[e.actor.removeprefix("contact:")]]
             if e.actor.removeprefix("contact:") in home else []),
         "text": texts[e.id].get("text")}
        for e in replies
    ]


def _playbook(incident: Incident) -> Any:
    try:
        return playbook_of(incident)
    except Exception:  # a frozen playbook that no longer loads must not hide the incident
        return None


def _liaisons(session: Session, community_ids: list[str]) -> dict[str, dict[str, str]]:
    """The liaison (id and name) of each community that has one: who owns its liaison tasks."""
    rows = session.exec(select(Community.id, Community.liaison_id).where(
        Community.id.in_(community_ids), Community.liaison_id.is_not(None))).all()
    staff = {s.id: s.name for s in session.exec(select(Staff).where(
        Staff.id.in_([r[1] for r in rows])))}
    return {cid: {"id": sid, "name": staff.get(sid, sid)} for cid, sid in rows}


def _task_notes(events: list[Event], texts: dict[int, dict[str, Any]]
                ) -> dict[tuple[str, str], str | None]:
    """The note of the latest tick or untick of each (community, task)."""
    notes: dict[tuple[str, str], str | None] = {}
    for e in events:
        if e.kind in ("task.done", "task.undone") and e.data.get("via") == "staff":
            notes[(e.community_id or "", e.data.get("task", ""))] = texts[e.id].get("note")
    return notes


def _overdue(t: IncidentTask, now: datetime | None) -> bool:
    return t.done_at is None and now is not None and t.due_at < now


def _task(t: IncidentTask, *, playbook: Any, now: datetime | None,
          notes: dict[tuple[str, str], str | None], liaison: dict[str, str] | None
          ) -> dict[str, Any]:
    spec = playbook.tasks.get(t.task_id) if playbook is not None else None
    owner = spec.owner if spec is not None else None
    return {"id": t.task_id, "kind": t.kind,
            "title": dict(spec.title) if spec is not None else {"nl": t.task_id,
                                                                 "en": t.task_id},
            "owner": owner,
            "owner_staff": liaison if owner == "liaison" else None,
            "due": iso_z(t.due_at),
            "done_at": iso_z(t.done_at) if t.done_at else None, "done_by": t.done_by,
            "state": "done" if t.done_at else "overdue" if _overdue(t, now) else "open",
            "note": notes.get((t.community_id, t.task_id))}


def _community(row: IncidentCommunity, name: str, messages: list[Message],
               tasks: list[IncidentTask], timers: list[Timer],
               answers: list[IntakeAnswer], *, task_doc: Any, playbook: Any
               ) -> dict[str, Any]:
    mine = [m for m in messages if row.community_id in m.community_ids]
    forms = playbook.intake_forms if playbook is not None else {}
    return {
        "id": row.community_id, "name": name, "role": row.role, "escalation": row.escalation,
        "status": row.status, "reach": reach_of(row),
        "acknowledged_at": iso_z(row.acknowledged_at) if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by, "taken_over_by": row.taken_over_by,
        "messages": [
            {"id": m.id, "to": f"{m.recipient_kind}:{m.recipient_id}", "channel": m.channel,
             "step": m.step, "state": STATE_WORDS.get(m.state, m.state), "detail": m.detail}
            for m in mine
        ],
        "tasks": [task_doc(t) for t in tasks if t.community_id == row.community_id],
        "next_step": (
            {"due": iso_z(t.due_at), "notify": t.notify}
            if (t := next((t for t in timers if t.community_id == row.community_id
                           and (t.kind == "followup" or row.status == "open")), None))
            else None
        ),
        "intake": [{"at": iso_z(a.at), "by": a.contact_id, "answers": a.answers,
                    "source": a.source,
                    "in_words": answers_in_words(forms.get(a.form_id), a.answers)}
                   for a in answers if a.community_id == row.community_id],
    }


def incident_head(incident: Incident) -> dict[str, Any]:
    """What `incident show` and the board say of the incident itself."""
    return {
        "id": incident.id, "type": incident.type, "title": incident.title,
        "severity": incident.severity, "area": incident.area, "status": incident.status,
        "exercise": incident.exercise, "declared_at": iso_z(incident.declared_at),
        "closed_at": iso_z(incident.closed_at) if incident.closed_at else None,
        "playbook": incident.checklist.get("incident", {}).get("playbook"),
    }
