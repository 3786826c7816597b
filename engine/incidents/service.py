"""The incident services: what a command, a worker and a web request call alike.

Each is a keyword-only verb over a session (the caller's transaction, committed by the caller)
or an engine (when the service owns its transaction), with the time and the playbook handed in;
each returns values: a dataclass, a document or a count. Nothing here prints or knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from engine.errors import InputError
from engine.incidents import board, flows, views
from engine.incidents.preview import (  # noqa: F401  (verbs of this service layer)
    first_message_segments,
    preview,
    refused_input,
)
from engine.liveness import workers_seen
from engine.registry.snapshot import load_snapshot
from engine.store.models import Contact, Incident, IncidentCommunity
from engine.store.states import IncidentStatus
from playbook.builder import REGISTRY_FIELD_TYPES, iso_z
from playbook.model import IncidentInput, Playbook


@dataclass(frozen=True)
class Declared:
    """A declared incident: its id and its checklist document (PLAYBOOK.md), as stored."""

    incident_id: int
    checklist: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        """The checklist's warnings, as text."""
        return list(self.checklist["warnings"])


def declare(*, session: Session, playbook: Playbook, incident: IncidentInput, now: datetime,
            actor: str = "cli") -> Declared:
    """Store the incident with its frozen playbook and checklist, its tasks and its timers, over
    the active registry as this transaction sees it. Sending is the worker's (or the caller's)."""
    with refused_input():
        row, doc = flows.declare_incident_flow(session, playbook=playbook, incident=incident,
                                               snapshot=load_snapshot(session.connection()),
                                               now=now, actor=actor)
    assert row.id is not None
    return Declared(row.id, doc)


def acknowledge(*, session: Session, incident_id: int, community_ids: list[str], by: str,
                now: datetime, via: str, note: str | None = None) -> list[str]:
    """Mark communities reached (`by` is `contact:ID`, `staff:ID` or `staff:cli`); their
    remaining steps stop. The communities that changed (already reached ones did not).
    A `contact:ID` must be a contact of every community named (InputError, nothing changed)."""
    if by.startswith("contact:"):
        check_contact_of(session=session, contact_id=by.removeprefix("contact:"),
                         community_ids=community_ids)
    return flows.acknowledge(session, incident_id=incident_id, community_ids=community_ids,
                             by=by, now=now, via=via, note=note)


def check_contact_of(*, session: Session, contact_id: str, community_ids: list[str]) -> None:
    """Refuse a contact who is not a contact of each of the communities (InputError)."""
    contact = session.get(Contact, contact_id)
    wrong = [c for c in community_ids if contact is None or contact.community_id != c]
    if not wrong:
        return
    if contact is None:
        raise InputError(f"--contact {contact_id}: no such contact in the registry / "
                         "onbekend contact")
    raise InputError([f"--contact {contact_id}: not a contact of community {c} (a contact of "
                      f"{contact.community_id}) / geen contact van deze gemeenschap"
                      for c in wrong])


DUPLICATE_WINDOW = timedelta(hours=24)
NO_WORKER_AFTER = timedelta(minutes=2)


def open_duplicates(*, session: Session, playbook: Playbook, incident: IncidentInput,
                    now: datetime) -> list[dict[str, Any]]:
    """Open incidents of the same type and target declared in the last 24 hours: the same
    `community` and `tag` fields, the same area and the same exercise flag (oldest first)."""
    itype = playbook.incident_types.get(incident.type)
    names = [n for n, f in (itype.fields.items() if itype else ())
             if f.type in REGISTRY_FIELD_TYPES]
    rows = session.exec(select(Incident).where(
        Incident.type == incident.type, Incident.status == IncidentStatus.OPEN,
        Incident.declared_at >= now - DUPLICATE_WINDOW).order_by(col(Incident.id))).all()

    def target(fields: Any, area: str | None) -> tuple[Any, ...]:
        return (*(fields.get(n) for n in names), area or None)

    wanted = target(incident.fields, incident.area)
    return [{"id": r.id, "title": r.title, "type": r.type, "declared_at": iso_z(r.declared_at)}
            for r in rows
            if bool(r.exercise) == incident.exercise and target(r.fields, r.area) == wanted]


def worker_seen(*, engine: Engine, now: datetime,
                within: timedelta = NO_WORKER_AFTER) -> bool:
    """Whether a `verbinder worker` or `serve` beat its heartbeat lately: without one, timers
    (later escalation steps, follow-ups) fire nowhere."""
    return bool(workers_seen(engine, since=now - within))


def take_over(*, session: Session, incident_id: int, community_ids: list[str], staff_id: str,
              now: datetime, via: str) -> list[str]:
    """A staff member who was alerted takes the communities over (by replying to the SMS,
    `via="sms"`, or through the link, `via="link"`; or a coordinator records it for them,
    `via="dashboard"` or `"api"`): they count as reached, with `taken_over_by` set. The
    communities that changed."""
    changed = flows.acknowledge(session, incident_id=incident_id, community_ids=community_ids,
                                by=f"staff:{staff_id}", now=now, via=via)
    if changed and via not in ("sms", "link"):  # the dashboard or the API, on their behalf
        for row in session.exec(select(IncidentCommunity).where(
                IncidentCommunity.incident_id == incident_id,
                col(IncidentCommunity.community_id).in_(changed))):
            row.taken_over_by = staff_id
            session.add(row)
    return changed


def tick_task(*, session: Session, incident_id: int, task_id: str,
              community_id: str | None = None, by: str, now: datetime,
              note: str | None = None, undo: bool = False) -> bool:
    """Staff tick a task done, or open it again with `undo` (`incident task`, CLI.md): who
    (`by`: the actor, as the audit log names it) and a note (kept in the note table). An
    incident task without `community_id`. False when it already was in that state; a task or
    community that the incident does not have is refused (InputError) naming what there is."""
    return flows.tick_task(session, incident_id=incident_id, task_id=task_id,
                           community_id=community_id, by=by, now=now, note=note, undo=undo)


def close(*, session: Session, incident_id: int, now: datetime, actor: str) -> bool:
    """Close an incident: timers stop, unsent messages are cancelled, the record stays. False
    when it was closed already."""
    return flows.close_incident(session, incident_id=incident_id, now=now, actor=actor)


def list_incidents(*, session: Session) -> list[dict[str, Any]]:
    """Incidents, newest first, each with its reach (communities reached of all)."""
    return views.list_incidents(session)


def show_incident(*, session: Session, incident_id: int, now: datetime | None = None
                  ) -> dict[str, Any]:
    """One incident: per community its reach status (`reach`: reached, taken_over, open),
    messages, tasks (title, owner, deadline, done or overdue at `now`), answers in words and
    next step, the channels' health, the timeline, and the replies that matched nothing
    (NotFoundError when there is no such incident). Plain data, for any reader."""
    return views.show_incident(session, incident_id, now=now)


def incident_board(*, session: Session, incident_id: int, role: str | None = None,
                   status: str | None = None) -> dict[str, Any]:
    """The board of one incident: per community its role, board status (board.STATUSES),
    contacts tried and how, next step; counts; the newest events (NotFoundError if none)."""
    return board.board(session, incident_id, role=role, status=status)


def board_version(*, session: Session, incident_id: int) -> str:
    """A text that changes whenever the incident's board may have changed (for live views
    that ask "anything new?" before asking for the board)."""
    return board.board_version(session, incident_id)
