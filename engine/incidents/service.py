"""The incident services: what a command, a worker and a web request call alike.

Each is a keyword-only verb over a session (the caller's transaction, committed by the caller)
or an engine (when the service owns its transaction), with the time and the playbook handed in;
each returns values: a dataclass, a document or a count. Nothing here prints or knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from engine.incidents import board, flows, views
from engine.registry.snapshot import load_snapshot
from engine.store.db import reading
from engine.store.models import IncidentCommunity
from playbook.builder import Checklist, CommunityItem, build_checklist
from playbook.model import IncidentInput, Playbook
from playbook.render import language_chain, message_context, render_message

# A link of realistic length, so that previewed SMS segment counts match real messages.
SAMPLE_TOKEN = "x" * 43


@dataclass(frozen=True)
class Declared:
    """A declared incident: its id and its checklist document (PLAYBOOK.md), as stored."""

    incident_id: int
    checklist: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        """The checklist's warnings, as text."""
        return list(self.checklist["warnings"])


def preview(*, engine: Engine, playbook: Playbook, incident: IncidentInput) -> Checklist:
    """The checklist the incident would get now over the active registry, changing nothing."""
    with reading(engine).connect() as conn:
        snapshot = load_snapshot(conn)
    return build_checklist(playbook, incident, snapshot.communities, snapshot.contacts,
                           snapshot.opted_out)


def first_message_segments(*, playbook: Playbook, checklist: Checklist, item: CommunityItem,
                           public_url: str, smart_encoding: bool = False) -> dict[str, int]:
    """SMS segments of the community's first escalation message, per contact language."""
    policy = playbook.policies.get(item.escalation or "")
    if policy is None or not policy.steps:
        return {}
    template = min(policy.steps, key=lambda s: s.after.nominal).template
    has_intake = any(t.task.kind == "intake" for t in item.tasks)
    intake_url = f"{public_url.rstrip('/')}/i/{SAMPLE_TOKEN}" if has_intake else ""
    segments: dict[str, int] = {}
    for eligible in item.contacts:
        chain = language_chain(eligible.language, item.community.languages,
                               playbook.default_locale)
        context = message_context(playbook, checklist.incident, community=item.community,
                                  contact=eligible.contact, intake_url=intake_url)
        message = render_message(playbook, template, "sms", language_chain=chain,
                                 context=context, smart_encoding=smart_encoding)
        if message.sms is not None and message.locale not in segments:
            segments[message.locale] = message.sms.segments
    return segments


def declare(*, session: Session, playbook: Playbook, incident: IncidentInput, now: datetime,
            actor: str = "cli") -> Declared:
    """Store the incident with its frozen playbook and checklist, its tasks and its timers, over
    the active registry as this transaction sees it. Sending is the worker's (or the caller's)."""
    row, doc = flows.declare_incident_flow(session, playbook=playbook, incident=incident,
                                           snapshot=load_snapshot(session.connection()),
                                           now=now, actor=actor)
    assert row.id is not None
    return Declared(row.id, doc)


def acknowledge(*, session: Session, incident_id: int, community_ids: list[str], by: str,
                now: datetime, via: str, note: str | None = None) -> list[str]:
    """Mark communities reached (`by` is `contact:ID`, `staff:ID` or `staff:cli`); their
    remaining steps stop. The communities that changed (already reached ones did not)."""
    return flows.acknowledge(session, incident_id=incident_id, community_ids=community_ids,
                             by=by, now=now, via=via, note=note)


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
              note: str | None = None, undo: bool = False) -> NoReturn:
    """Staff tick a task done (`incident task`, CLI.md). Not built yet (issue 12): today only
    acknowledgements and intake answers tick tasks, inside `acknowledge` and `record_intake`."""
    raise NotImplementedError("ticking a task by hand is not built yet (issue 12)")


def close(*, session: Session, incident_id: int, now: datetime, actor: str) -> bool:
    """Close an incident: timers stop, unsent messages are cancelled, the record stays. False
    when it was closed already."""
    return flows.close_incident(session, incident_id=incident_id, now=now, actor=actor)


def list_incidents(*, session: Session) -> list[dict[str, Any]]:
    """Incidents, newest first, each with its reach (communities reached of all)."""
    return views.list_incidents(session)


def show_incident(*, session: Session, incident_id: int) -> dict[str, Any]:
    """One incident: per community its reach status, messages, tasks and next step, the
    channels' health and the timeline (NotFoundError when there is no such incident)."""
    return views.show_incident(session, incident_id)


def incident_board(*, session: Session, incident_id: int, role: str | None = None,
                   status: str | None = None) -> dict[str, Any]:
    """The board of one incident: per community its role, board status (board.STATUSES),
    contacts tried and how, next step; counts; the newest events (NotFoundError if none)."""
    return board.board(session, incident_id, role=role, status=status)


def board_version(*, session: Session, incident_id: int) -> str:
    """A text that changes whenever the incident's board may have changed (for live views
    that ask "anything new?" before asking for the board)."""
    return board.board_version(session, incident_id)
