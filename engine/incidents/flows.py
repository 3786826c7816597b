"""Declare, acknowledge and close: the incident flows, each one transaction.

They are called the same way from a command, a worker and a web request: with a session whose
transaction the caller commits, and the time from the caller's clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from engine.audit.events import record
from engine.audit.log import append
from engine.errors import InputError, NotFoundError
from engine.outreach.outbox import cancel_settled
from engine.playbooks.frozen import freeze_files
from engine.privacy.texts import keep_note, note_problem
from engine.registry.snapshot import RegistrySnapshot
from engine.store.bulk import insert_rows
from engine.store.models import Incident, IncidentCommunity, IncidentTask, Timer
from engine.store.states import CommunityStatus, IncidentStatus, TimerState, move
from playbook.builder import build_checklist, followup_due, plan_steps
from playbook.model import IncidentInput


def declare_incident_flow(
    session: Session,
    *,
    playbook: Any,
    incident: IncidentInput,
    snapshot: RegistrySnapshot,
    now: datetime,
    actor: str = "cli",
) -> tuple[Incident, dict[str, Any]]:
    """Store the incident with its frozen playbook and checklist, its tasks and its timers."""
    checklist = build_checklist(
        playbook, incident, snapshot.communities, snapshot.contacts, snapshot.opted_out
    )
    doc = checklist.to_json()
    head = doc["incident"]
    row = Incident(
        type=incident.type, title=head["title"], severity=head["severity"], area=incident.area,
        lat=incident.lat, lon=incident.lon, fields=dict(incident.fields),
        exercise=incident.exercise, declared_at=incident.declared_at,
        playbook_id=playbook.id, playbook_version=playbook.version,
        playbook_digest=playbook.digest,
        playbook_files=freeze_files(dict(playbook.files), playbook.main),
        checklist=doc,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    doc["incident"]["id"] = row.id
    row.checklist, row.checklist_key = doc, uuid.uuid4().hex
    _add_rows(session, row, playbook, doc)
    record(session, kind="incident.declared", at=now, incident_id=row.id, actor=actor,
           type=row.type, severity=row.severity, exercise=row.exercise,
           communities=len(doc["communities"]), playbook=playbook.digest,
           warnings=len(doc["warnings"]))
    append(session, actor=actor, action="incident.declare", object=f"incident:{row.id}", at=now,
           details={"type": row.type, "exercise": row.exercise,
                    "communities": len(doc["communities"])})
    return row, doc


def _add_rows(session: Session, incident: Incident, playbook: Any, doc: dict[str, Any]) -> None:
    conn = session.connection()
    declared, zone = incident.declared_at, playbook.timezone
    community_rows: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    for t in doc["incident_tasks"]:
        tasks.append(_task_row(incident, "", playbook.tasks[t["id"]], declared, zone))
    for c in doc["communities"]:
        community_rows.append({"incident_id": incident.id, "community_id": c["id"],
                               "role": c["role"], "escalation": c.get("escalation"),
                               "status": CommunityStatus.OPEN})
        for t in c["tasks"]:
            task = playbook.tasks[t["id"]]
            tasks.append(_task_row(incident, c["id"], task, declared, zone))
            if task.kind == "followup":
                timers.append(_timer_row(incident, c["id"], "followup", 0, 0, "primary",
                                         task.template, followup_due(task, declared, zone),
                                         task.id))
        policy = playbook.policies.get(c.get("escalation") or "")
        if policy is None or (not c["contacts"] and not _has_staff_step(policy)):
            continue
        for p in plan_steps(policy, declared, zone):
            timers.append(_timer_row(incident, c["id"], "escalation", p.round, p.step_index,
                                     p.notify, p.template, p.due_at, ""))
    for table, rows in ((IncidentCommunity, community_rows), (IncidentTask, tasks),
                        (Timer, timers)):
        insert_rows(conn, table.__table__, rows)


def _has_staff_step(policy: Any) -> bool:
    return any(s.notify in ("liaison", "oncall", "coordinator") for s in policy.steps)


def _task_row(incident: Incident, community_id: str, task: Any, declared: datetime,
              zone: str) -> dict:
    return {"incident_id": incident.id, "community_id": community_id, "task_id": task.id,
            "kind": task.kind, "due_at": followup_due(task, declared, zone)}


def _timer_row(incident: Incident, community_id: str, kind: str, rnd: int, index: int,
               notify: str, template: str, due: datetime, task_id: str) -> dict:
    return {"incident_id": incident.id, "community_id": community_id, "kind": kind,
            "round": rnd, "step_index": index, "notify": notify, "template": template,
            "due_at": due, "task_id": task_id, "state": TimerState.PENDING}


def get_incident(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    """The incident, or a refusal naming the id."""
    stmt = select(Incident).where(Incident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    if row is None:
        raise NotFoundError(f"incident {incident_id}: no such incident")
    return row


def acknowledge(
    session: Session,
    *,
    incident_id: int,
    community_ids: list[str],
    by: str,
    now: datetime,
    via: str,
    note: str | None = None,
) -> list[str]:
    """Mark communities reached; the remaining steps stop (checked under the same row lock).

    Returns the communities that changed. Already acknowledged ones are left as they were.
    """
    incident = get_incident(session, incident_id)
    rows = list(session.exec(
        select(IncidentCommunity)
        .where(IncidentCommunity.incident_id == incident_id,
               IncidentCommunity.community_id.in_(community_ids))
        .order_by(IncidentCommunity.incident_id, IncidentCommunity.community_id)
        .with_for_update()
    ))
    known = {r.community_id for r in rows}
    missing = [c for c in community_ids if c not in known]
    if missing:
        raise InputError([f"community {c}: not part of incident {incident_id}" for c in missing])
    changed = []
    note_id = None
    for community_row in rows:
        if community_row.status != CommunityStatus.OPEN:
            continue
        move(community_row, CommunityStatus.ACKNOWLEDGED, "status")
        community_row.acknowledged_at, community_row.acknowledged_by = now, by
        if by.startswith("staff:") and via in ("sms", "link"):
            community_row.taken_over_by = by.removeprefix("staff:")
        changed.append(community_row.community_id)
        note_id = note_id or keep_note(session, text=note, author=by, at=now,
                                       incident_id=incident_id)
        record(session, kind="community.acknowledged", at=now, incident_id=incident_id,
               community_id=community_row.community_id, actor=by, via=via, note_id=note_id)
    if changed:
        append(session, actor=by, action="incident.ack", object=f"incident:{incident_id}",
               at=now, details={"communities": changed, "via": via, "note_id": note_id})
        _tick_tasks(session, incident_id, changed, ("outreach",), by, now)
        settled = {r.community_id for r in session.exec(
            select(IncidentCommunity).where(IncidentCommunity.incident_id == incident_id,
                                            IncidentCommunity.status != CommunityStatus.OPEN))}
        cancel_settled(session, incident_id=incident.id, settled=settled, now=now,
                       reason="acknowledged")
    return changed


def _tick_tasks(session: Session, incident_id: int, community_ids: list[str],
                kinds: tuple[str, ...], by: str, now: datetime) -> None:
    tasks = session.exec(select(IncidentTask).where(
        IncidentTask.incident_id == incident_id, IncidentTask.community_id.in_(community_ids),
        IncidentTask.kind.in_(kinds), IncidentTask.done_at.is_(None)))
    for task in tasks:
        task.done_at, task.done_by = now, by
        record(session, kind="task.done", at=now, incident_id=incident_id,
               community_id=task.community_id, actor=by, task=task.task_id)


def complete_intake(session: Session, *, incident_id: int, community_ids: list[str], by: str,
                    now: datetime) -> None:
    """An intake answer arrived: the intake tasks of these communities are done."""
    _tick_tasks(session, incident_id, community_ids, ("intake",), by, now)


def tick_task(session: Session, *, incident_id: int, task_id: str, community_id: str | None,
              by: str, now: datetime, note: str | None = None, undo: bool = False) -> bool:
    """Staff tick a task done (or, with `undo`, open it again), with who and a note: an event
    (`task.done` / `task.undone`) on the timeline, the note in the note table. False when the
    task was already in that state (nothing recorded)."""
    problem = note_problem(note)
    if problem:
        raise InputError(f"note: {problem}")
    get_incident(session, incident_id)
    rows = list(session.exec(select(IncidentTask).where(
        IncidentTask.incident_id == incident_id).with_for_update()))
    scope = community_id or ""
    task = next((t for t in rows if t.community_id == scope and t.task_id == task_id), None)
    if task is None:
        raise InputError(_no_such_task(incident_id, task_id, community_id, rows))
    if (task.done_at is None) is undo:
        return False
    note_id = keep_note(session, text=note, author=by, at=now, incident_id=incident_id)
    task.done_at, task.done_by = (None, None) if undo else (now, by)
    kind = "task.undone" if undo else "task.done"
    record(session, kind=kind, at=now, incident_id=incident_id,
           community_id=community_id, actor=by, task=task_id, via="staff", note_id=note_id)
    append(session, actor=by, action="incident.task", object=f"incident:{incident_id}", at=now,
           details={"task": task_id, "community": community_id, "undo": undo,
                    "note_id": note_id})
    return True


def _no_such_task(incident_id: int, task_id: str, community_id: str | None,
                  rows: list[IncidentTask]) -> list[str]:
    """Why no task matched, and what would: the tasks there are in that scope."""
    task_id, community_id = task_id[:100], community_id[:200] if community_id else None
    if community_id and not any(t.community_id == community_id for t in rows):
        return [f"--community {community_id}: not part of incident {incident_id}"]
    scope = community_id or ""
    there = sorted({t.task_id for t in rows if t.community_id == scope})
    where = f"community {community_id}" if community_id else "the incident itself"
    problem = f"--task {task_id}: no such task for {where} in incident {incident_id}"
    elsewhere = sorted({t.community_id for t in rows if t.task_id == task_id and t.community_id})
    if not community_id and elsewhere:
        problem += (f"; it is a community task: add --community ({', '.join(elsewhere[:5])}"
                    f"{', ...' if len(elsewhere) > 5 else ''})")
    elif there:
        problem += f" (tasks there: {', '.join(there)})"
    return [problem]


def close_incident(session: Session, *, incident_id: int, now: datetime, actor: str) -> bool:
    """Close an incident: timers stop, unsent messages are cancelled, the record stays."""
    incident = get_incident(session, incident_id, lock=True)
    if incident.status == IncidentStatus.CLOSED:
        return False
    move(incident, IncidentStatus.CLOSED, "status")
    incident.closed_at = now
    timers = session.exec(select(Timer).where(Timer.incident_id == incident_id,
                                              Timer.state == TimerState.PENDING))
    stopped = 0
    for timer in timers:
        move(timer, TimerState.CANCELLED)
        timer.cancelled_at = now
        stopped += 1
    cancelled = cancel_settled(session, incident_id=incident_id, settled=None, now=now,
                               reason="incident closed")
    record(session, kind="incident.closed", at=now, incident_id=incident_id, actor=actor,
           timers_stopped=stopped, messages_cancelled=cancelled)
    append(session, actor=actor, action="incident.close", object=f"incident:{incident_id}",
           at=now, details={"timers_stopped": stopped, "messages_cancelled": cancelled})
    return True
