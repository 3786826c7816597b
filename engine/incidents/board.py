"""The incident board: per community where its reach stands, in a word a coordinator acts on.

The board status is derived from what is stored (no column of its own): the community's row
(acknowledged, taken over), its messages (queued, sent, delivered, failed, unknown), messages
to staff and the auditor's `community.silent` (escalated), and intake answers and tasks
(needs stated, needs met). Read in a handful of queries, grouped in memory: an incident of 500
communities and a few thousand messages is read in tens of milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.clock import iso_z
from engine.errors import NotFoundError
from engine.incidents.views import STATE_WORDS, incident_head, unmatched_replies
from engine.playbooks.frozen import load_incidents, playbook_of
from engine.privacy.texts import timeline_texts
from engine.store.models import (
    Account,
    Community,
    Event,
    IncidentCommunity,
    IncidentTask,
    IntakeAnswer,
    Message,
    Staff,
    Timer,
)
from playbook.answers import answers_in_words

# per task id: its title per language, and its owner
TaskSpecs = tuple[dict[str, dict[str, str]], dict[str, str]]

# The statuses, in the order the board sorts by (what needs a person first).
STATUSES = ("escalated", "unknown", "not_contacted", "sent", "delivered", "needs_stated",
            "acknowledged", "taken_over", "needs_met")
TIMELINE_ROWS = 50
# A board's rows share a handful of times (deadlines, steps): each is written out once.
_iso = lru_cache(maxsize=8192)(iso_z)
# How strong a message's state is as evidence of reach (the strongest one speaks).
_STRENGTH = {"delivered": 3, "sent": 2, "unknown": 1}


def board(session: Session, incident_id: int, *, role: str | None = None,
          status: str | None = None, timeline_rows: int = TIMELINE_ROWS) -> dict[str, Any]:
    """The board of one incident: its head, the counts per status and role, the rows (filtered
    by role and status when given) and the newest events (NotFoundError when no incident)."""
    # First: the board below is at least as new as its version (READ COMMITTED reads each
    # query afresh), so a poll that compares versions never misses a change.
    version = board_version(session, incident_id)
    # the frozen checklist (large: every community's entry) is read and parsed once per process
    incident = load_incidents(session, [incident_id])[incident_id]
    if incident is None:
        raise NotFoundError(f"incident {incident_id}: no such incident")
    # Plain rows of the columns shown, not ORM objects: a board of 500 is read twice as fast.
    rows = list(session.exec(select(
        IncidentCommunity.community_id, IncidentCommunity.role, IncidentCommunity.escalation,
        IncidentCommunity.status, IncidentCommunity.acknowledged_at,
        IncidentCommunity.acknowledged_by, IncidentCommunity.taken_over_by,
        Community.name, Community.liaison_id, col(Staff.name).label("liaison_name"))
        .outerjoin(Community, col(Community.id) == IncidentCommunity.community_id)
        .outerjoin(Staff, col(Staff.id) == Community.liaison_id).where(
        IncidentCommunity.incident_id == incident_id)))
    # only the columns the board shows (not the bodies)
    messages = _by_community(session.exec(select(
        Message.community_ids, Message.recipient_kind, Message.channel, Message.step,
        Message.state).where(Message.incident_id == incident_id).order_by(col(Message.id))))
    tasks: dict[str, list[Any]] = defaultdict(list)
    for t in session.exec(select(
            IncidentTask.community_id, IncidentTask.task_id, IncidentTask.kind,
            IncidentTask.due_at, IncidentTask.done_at, IncidentTask.done_by).where(
            IncidentTask.incident_id == incident_id)):
        tasks[t.community_id].append(t)
    timers: dict[str, list[Any]] = defaultdict(list)
    for timer in session.exec(select(Timer.community_id, Timer.kind, Timer.notify, Timer.due_at)
                              .where(Timer.incident_id == incident_id, Timer.state == "pending")
                              .order_by(col(Timer.due_at))):
        timers[timer.community_id].append(timer)
    silent = set(session.exec(select(Event.community_id).where(
        Event.incident_id == incident_id, Event.kind == "community.silent")))
    order = {c["id"]: n for n, c in enumerate(incident.checklist.get("communities", []))}
    playbook = _playbook(incident)
    titles = _task_titles(playbook)
    owners = _task_owners(playbook)
    answers = _answers(session, incident_id, playbook)
    replies = _replies(session, incident_id)
    communities = [
        _row(r, r.name or r.community_id, messages.get(r.community_id, []),
             tasks.get(r.community_id, []), timers.get(r.community_id, []),
             answers.get(r.community_id), r.community_id in silent, (titles, owners),
             replies.get(r.community_id, []))
        for r in sorted(rows, key=lambda r: order.get(r.community_id, 10**9))
    ]
    shown = [c for c in communities if (not role or c["role"] == role)
             and (not status or c["board_status"] == status)]
    return {
        "incident": {**incident_head(incident),
                     "type_label": _type_label(playbook, incident.type)},
        "counts": _counts(communities, "board_status"),
        "roles": _counts(communities, "role"),
        "total": len(communities),
        "communities": shown,
        "unmatched_replies": replies.get("", []),
        "incident_tasks": [_task(t, (titles, owners), None)
                           for t in sorted(tasks.get("", []), key=lambda t: t.due_at)],
        "timeline": _timeline(session, incident_id, timeline_rows),
        "version": version,
    }


def board_version(session: Session, incident_id: int) -> str:
    """A short text that changes whenever the board of the incident may have changed: every
    change of state records an event, and every message change moves its `updated_at`."""
    event = session.exec(select(func.max(Event.id)).where(Event.incident_id == incident_id)).one()
    count, latest = session.exec(select(func.count(col(Message.id)), func.max(Message.updated_at))
                                 .where(Message.incident_id == incident_id)).one()
    stamp = latest.timestamp() if latest is not None else 0
    return f"{event or 0}-{count}-{stamp:.6f}"


def _by_community(messages: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for m in messages:
        for community_id in m.community_ids:
            out[community_id].append(m)
    return out


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[key]] = counts.get(r[key], 0) + 1
    return counts


def board_status(row: Any, messages: list[Any], tasks: list[Any],
                 needs: Collection[str] | None, silent: bool) -> str:
    """One community's status on the board (one of STATUSES), from its IncidentCommunity, its
    Message and IncidentTask rows (objects, or rows of the columns used) and `needs`: None
    when it gave no (current) intake answer, else the ids of the tasks its answers added.

    Needs are met when every task the answers added is done (an answer that added none, such
    as "nothing right now", is met as it stands); the community's other tasks (aftercare in a
    month) do not keep it at "needs stated"."""
    if needs is not None:
        added = [t for t in tasks if t.task_id in needs]
        return "needs_met" if all(t.done_at for t in added) else "needs_stated"
    if row.status == "acknowledged":
        return "taken_over" if row.taken_over_by else "acknowledged"
    if silent or any(m.recipient_kind == "staff" and m.step.startswith("esc") for m in messages):
        return "escalated"
    words = [STATE_WORDS.get(m.state, m.state) for m in messages if m.recipient_kind == "contact"]
    best = max((_STRENGTH.get(w, 0) for w in words), default=0)
    return {3: "delivered", 2: "sent", 1: "unknown"}.get(best, "not_contacted")


def _playbook(incident: Any) -> Any:
    try:
        return playbook_of(incident)
    except Exception:  # a frozen playbook that no longer loads must not hide the board
        return None


def _type_label(playbook: Any, type_id: str) -> dict[str, str]:
    """The incident type's label per language (its id when the playbook does not know it)."""
    spec = playbook.incident_types.get(type_id) if playbook is not None else None
    return dict(spec.label) if spec is not None else {"nl": type_id, "en": type_id}


def _task_titles(playbook: Any) -> dict[str, dict[str, str]]:
    """Task id -> its title per language, from the playbook the incident was declared with."""
    if playbook is None:
        return {}
    return {task_id: dict(spec.title) for task_id, spec in playbook.tasks.items()}


def _task_owners(playbook: Any) -> dict[str, str]:
    """Task id -> who owns it (liaison, coordinator, oncall), where the playbook says."""
    if playbook is None:
        return {}
    return {task_id: spec.owner for task_id, spec in playbook.tasks.items() if spec.owner}


def _answers(session: Session, incident_id: int, playbook: Any
             ) -> dict[str, list[dict[str, Any]]]:
    """Per community its current intake answers: when, the chosen options in words (`needs`,
    per language), free texts (`texts`: label per language and text, personal data) and the
    tasks the chosen options added (`added`)."""
    forms = playbook.intake_forms if playbook is not None else {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in session.exec(select(
            IntakeAnswer.community_id, IntakeAnswer.form_id, IntakeAnswer.answers,
            IntakeAnswer.at, IntakeAnswer.source).where(
            IntakeAnswer.incident_id == incident_id, col(IntakeAnswer.replaced_at).is_(None))
            .order_by(col(IntakeAnswer.at))):
        form = forms.get(a.form_id)
        words = answers_in_words(form, a.answers or {})
        adds = form.option_tasks if form else {}
        out[a.community_id].append({
            "at": iso_z(a.at), "source": a.source,
            "needs": [w["words"] for w in words if w["options"]],
            "texts": [{"label": w["label"], "text": w["text"]} for w in words
                      if w["text"] is not None],
            "added": sorted({adds[(w["question"], o)] for w in words for o in w["options"]
                             if adds.get((w["question"], o))}),
        })
    return out


def _replies(session: Session, incident_id: int) -> dict[str, list[dict[str, Any]]]:
    """The incident's replies that matched nothing, per community they name ("" for none)."""
    events = list(session.exec(select(Event).where(
        Event.incident_id == incident_id, Event.kind == "inbound.reply")
        .order_by(col(Event.at), col(Event.id))))
    if not events:
        return {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reply in unmatched_replies(session, events, timeline_texts(session, events)):
        for community_id in reply["communities"] or [""]:
            out[community_id].append(reply)
    return out


def _row(row: Any, name: str, messages: list[Any], tasks: list[Any], timers: list[Any],
         answers: list[dict[str, Any]] | None, silent: bool,
         specs: TaskSpecs, replies: list[dict[str, Any]]) -> dict[str, Any]:
    timer = next((t for t in timers if t.kind == "followup" or row.status == "open"), None)
    liaison = {"id": row.liaison_id, "name": row.liaison_name or row.liaison_id} \
        if row.liaison_id else None
    needs = {t for a in answers for t in a["added"]} if answers is not None else None
    return {
        "id": row.community_id, "name": name, "role": row.role, "escalation": row.escalation,
        "liaison": row.liaison_id,
        "status": row.status,
        "board_status": board_status(row, messages, tasks, needs, silent),
        "answers": answers or [], "replies": replies,
        "acknowledged_at": _iso(row.acknowledged_at) if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by, "taken_over_by": row.taken_over_by,
        "tried": [{"to": m.recipient_kind, "channel": m.channel, "step": m.step,
                   "state": STATE_WORDS.get(m.state, m.state)} for m in messages],
        "tasks": (mine := [_task(t, specs, liaison)
                           for t in sorted(tasks, key=lambda t: t.due_at)]),
        "tasks_done": sum(1 for t in mine if t["done_at"]),
        "next_task": next((t for t in mine if not t["done_at"]), None),
        "next_step": {"due": _iso(timer.due_at), "notify": timer.notify} if timer else None,
    }


def _task(t: Any, specs: TaskSpecs, liaison: dict[str, str] | None) -> dict[str, Any]:
    titles, owners = specs
    owner = owners.get(t.task_id)
    return {"id": t.task_id, "kind": t.kind, "due": _iso(t.due_at),
            "title": titles.get(t.task_id, {"nl": t.task_id, "en": t.task_id}),
            "owner": owner, "owner_staff": liaison if owner == "liaison" else None,
            "done_at": _iso(t.done_at) if t.done_at else None, "done_by": t.done_by}


def _timeline(session: Session, incident_id: int, limit: int) -> list[dict[str, Any]]:
    events = list(session.exec(select(Event).where(Event.incident_id == incident_id)
                               .order_by(col(Event.at).desc(), col(Event.id).desc())
                               .limit(limit)))
    names = _staff_names(session, {e.actor for e in events if e.actor})
    return [{"at": iso_z(e.at), "kind": e.kind, "community": e.community_id, "actor": e.actor,
             "actor_name": names.get(e.actor or "")} for e in events]


def _staff_names(session: Session, actors: set[str]) -> dict[str, str]:
    """Who acted, by name, for staff and their dashboard accounts (`staff:ID`, `account:N`);
    contacts stay ids (the board shows them to people who may not see the contacts)."""
    accounts = {int(a[8:]) for a in actors if a.startswith("account:") and a[8:].isdigit()}
    staff = {a[6:] for a in actors if a.startswith("staff:")}
    linked = list(session.exec(select(Account.id, Account.email, Account.staff_id).where(
        col(Account.id).in_(accounts)))) if accounts else []
    staff |= {row.staff_id for row in linked if row.staff_id}
    people = dict(session.exec(select(Staff.id, Staff.name).where(
        col(Staff.id).in_(staff))).all()) if staff else {}
    names = {f"staff:{sid}": name for sid, name in people.items() if name}
    names.update({f"account:{row.id}": people.get(row.staff_id or "") or row.email
                  for row in linked})
    return names
