"""The evaluation of one incident: per community who was reached, how fast, by which channel,
what escalated, what they needed and what was done; per role and overall medians.

Plain functions over a connection. Every table is read in one pass (messages and answers in
batches), and what is kept is a few values per community, so memory follows the number of
communities, never the number of messages or events.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.playbooks.frozen import playbook_of
from engine.reports.privacy import chosen_options, free_texts
from engine.store.models import (
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
from playbook.model import Playbook

ROLE_ORDER = ("affected", "at_risk", "bridging", "informed")
STAFF_AUDIENCES = frozenset({"liaison", "oncall", "coordinator"})
SENT_STATES = frozenset({"accepted", "delivered"})
BATCH = 2000


@dataclass
class Head:
    """The incident as declared, with its playbook."""

    id: int
    type: str
    type_label: dict[str, str]
    title: str
    severity: int
    area: str | None
    status: str
    exercise: bool
    declared_at: datetime
    closed_at: datetime | None
    playbook_id: str
    playbook_version: str
    playbook_digest: str
    zone: str
    municipality: str
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The head as the JSON export's incident record holds it (UTC times)."""
        from engine.clock import iso_z

        return {"id": self.id, "type": self.type, "title": self.title,
                "severity": self.severity, "area": self.area, "status": self.status,
                "exercise": self.exercise, "declared_at": iso_z(self.declared_at),
                "closed_at": iso_z(self.closed_at) if self.closed_at else None,
                "fields": self.fields,
                "playbook": {"id": self.playbook_id, "version": self.playbook_version,
                             "digest": self.playbook_digest}}


@dataclass
class TaskState:
    """One task of a community or of the incident, and how it ended."""

    id: str
    title: dict[str, str]
    kind: str
    due_at: datetime
    done_at: datetime | None
    state: str  # done | late | open | overdue


@dataclass
class StepTaken:
    """A fired escalation step."""

    minutes: float
    round: int
    index: int
    notify: str


@dataclass
class CommunityFigures:
    """What happened to one community of the incident."""

    id: str
    name: str
    role: str
    escalation: str | None
    status: str = "open"
    first_sent: datetime | None = None
    first_delivered: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None  # contact | staff
    acknowledged_by_name: str | None = None  # only with personal data
    ack_via: str | None = None
    channels_worked: set[str] = field(default_factory=set)
    channels_failed: set[str] = field(default_factory=set)
    steps: list[StepTaken] = field(default_factory=list)
    followups: list[float] = field(default_factory=list)
    needs: list[tuple[str, str, str]] = field(default_factory=list)  # form, question, option
    need_tasks: set[str] = field(default_factory=set)  # the tasks the chosen options added
    needs_at: datetime | None = None
    remarks: list[str] = field(default_factory=list)  # only with personal data
    tasks: list[TaskState] = field(default_factory=list)
    declared_at: datetime | None = None

    def minutes_to(self, when: datetime | None) -> float | None:
        """Minutes from the declaration to a moment, or None."""
        if when is None or self.declared_at is None:
            return None
        return max(0.0, (when - self.declared_at).total_seconds() / 60)

    @property
    def to_first(self) -> float | None:
        """Minutes to the first message accepted for one of its contacts."""
        return self.minutes_to(self.first_sent)

    @property
    def to_delivery(self) -> float | None:
        """Minutes to the first delivery report."""
        return self.minutes_to(self.first_delivered)

    @property
    def to_ack(self) -> float | None:
        """Minutes to the acknowledgement."""
        return self.minutes_to(self.acknowledged_at)

    @property
    def to_staff(self) -> bool:
        """Whether an escalation step went to staff."""
        return any(s.notify in STAFF_AUDIENCES for s in self.steps)

    @property
    def needs_met(self) -> bool | None:
        """Needs stated and every task their options added done (the board's rule: a need
        that adds no task is met as stated); None when no needs stated."""
        if not self.needs:
            return None
        return all(t.done_at is not None for t in self.tasks if t.id in self.need_tasks)

    @property
    def late_tasks(self) -> list[TaskState]:
        """Tasks done after their due time."""
        return [t for t in self.tasks if t.state == "late"]

    @property
    def open_tasks(self) -> list[TaskState]:
        """Tasks not done (overdue or not yet due)."""
        return [t for t in self.tasks if t.state in ("open", "overdue")]


@dataclass
class RoleFigures:
    """Counts and medians of a role (or of all communities)."""

    role: str
    communities: int
    reached: int
    to_first: float | None
    to_delivery: float | None
    to_ack: float | None
    to_staff: int
    needs_stated: int
    needs_met: int


@dataclass
class Evaluation:
    """The whole evaluation of one incident."""

    head: Head
    playbook: Playbook
    communities: list[CommunityFigures]
    incident_tasks: list[TaskState]
    channels: dict[str, Counter[str]]
    events: int
    include_pii: bool
    generated_at: datetime

    def roles(self) -> list[RoleFigures]:
        """Figures per role present (in precedence order), then overall."""
        present = [r for r in ROLE_ORDER if any(c.role == r for c in self.communities)]
        present += sorted({c.role for c in self.communities} - set(ROLE_ORDER))
        out = [role_figures(r, [c for c in self.communities if c.role == r]) for r in present]
        out.append(role_figures("all", self.communities))
        return out

    def reach_series(self) -> dict[str, tuple[int, list[float]]]:
        """Per role (and `all`): its number of communities and sorted minutes to acknowledge."""
        series: dict[str, tuple[int, list[float]]] = {}
        for fig in self.roles():
            members = [c for c in self.communities if fig.role in ("all", c.role)]
            series[fig.role] = (len(members), sorted(m for c in members
                                                     if (m := c.to_ack) is not None))
        return series


def role_figures(role: str, members: list[CommunityFigures]) -> RoleFigures:
    """Counts and medians over some communities."""
    return RoleFigures(
        role=role, communities=len(members),
        reached=sum(1 for c in members if c.acknowledged_at is not None),
        to_first=median([c.to_first for c in members]),
        to_delivery=median([c.to_delivery for c in members]),
        to_ack=median([c.to_ack for c in members]),
        to_staff=sum(1 for c in members if c.to_staff),
        needs_stated=sum(1 for c in members if c.needs),
        needs_met=sum(1 for c in members if c.needs_met),
    )


def median(values: list[float | None]) -> float | None:
    """The median of the known values, or None."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def reach_at(series: tuple[int, list[float]], minutes: float) -> float | None:
    """The share of communities acknowledged within `minutes` (None without communities)."""
    total, acks = series
    if not total:
        return None
    return sum(1 for m in acks if m <= minutes) / total


# --- assembly -------------------------------------------------------------------------------


def assemble(conn: Connection, incident_id: int, *, include_pii: bool,
             now: datetime) -> Evaluation:
    """The evaluation of an incident, read through one connection."""
    incident = load_incident(conn, incident_id)
    playbook = playbook_of(incident)
    head = head_of(incident, playbook)
    reference = incident.closed_at or now
    figures = _communities(conn, incident, head)
    _add_messages(conn, incident_id, figures)
    _add_timers(conn, incident_id, figures, head.declared_at)
    # a purged incident's acknowledgers are not named again from the registry's live rows
    _add_acknowledgements(conn, incident_id, figures,
                          include_pii and incident.erased_at is None)
    incident_tasks = _add_tasks(conn, incident_id, figures, playbook, reference)
    _add_answers(conn, incident_id, figures, playbook, include_pii)
    return Evaluation(
        head=head, playbook=playbook, communities=list(figures.values()),
        incident_tasks=incident_tasks, channels=_channel_totals(conn, incident_id),
        events=_count(conn, Event.__table__, incident_id), include_pii=include_pii,
        generated_at=now)


def load_incident(conn: Connection, incident_id: int) -> Incident:
    """The incident row (with its frozen playbook), or a refusal naming the id."""
    from sqlmodel import Session, select

    from engine.errors import NotFoundError

    with Session(bind=conn) as session:
        row = session.exec(select(Incident).where(Incident.id == incident_id)).first()
        if row is None:
            raise NotFoundError(f"incident {incident_id}: no such incident")
        session.expunge(row)
        return row


def head_of(incident: Incident, playbook: Playbook) -> Head:
    """The head of an incident."""
    itype = playbook.incident_types.get(incident.type)
    return Head(
        id=int(incident.id or 0), type=incident.type,
        type_label=dict(itype.label) if itype else {}, title=incident.title,
        severity=incident.severity, area=incident.area, status=str(incident.status),
        exercise=bool(incident.exercise), declared_at=incident.declared_at,
        closed_at=incident.closed_at, playbook_id=incident.playbook_id,
        playbook_version=incident.playbook_version, playbook_digest=incident.playbook_digest,
        zone=playbook.timezone, municipality=playbook.name, fields=dict(incident.fields))


def _communities(conn: Connection, incident: Incident, head: Head
                 ) -> dict[str, CommunityFigures]:
    names = {c["id"]: c.get("name", c["id"]) for c in incident.checklist.get("communities", [])}
    order = {cid: n for n, cid in enumerate(names)}
    t = IncidentCommunity.__table__
    rows = conn.execute(sa.select(t.c.community_id, t.c.role, t.c.escalation, t.c.status,
                                  t.c.acknowledged_at, t.c.acknowledged_by)
                        .where(t.c.incident_id == incident.id)).all()
    rows.sort(key=lambda r: (order.get(r.community_id, len(order)), r.community_id))
    out: dict[str, CommunityFigures] = {}
    for r in rows:
        by = (r.acknowledged_by or "").split(":", 1)[0] or None
        out[r.community_id] = CommunityFigures(
            id=r.community_id, name=names.get(r.community_id, r.community_id), role=r.role,
            escalation=r.escalation, status=str(r.status), acknowledged_at=r.acknowledged_at,
            acknowledged_by=by, declared_at=head.declared_at)
    return out


def _add_messages(conn: Connection, incident_id: int,
                  figures: dict[str, CommunityFigures]) -> None:
    t = Message.__table__
    stmt = (sa.select(t.c.community_ids, t.c.channel, t.c.state, t.c.accepted_at,
                      t.c.delivered_at)
            .where(t.c.incident_id == incident_id, t.c.recipient_kind == "contact"))
    for rows in conn.execution_options(yield_per=BATCH).execute(stmt).partitions():
        for m in rows:
            state = str(m.state)
            for cid in m.community_ids or ():
                fig = figures.get(cid)
                if fig is None:
                    continue
                sent = m.accepted_at or m.delivered_at
                if sent is not None and state != "cancelled" and (
                        fig.first_sent is None or sent < fig.first_sent):
                    fig.first_sent = sent
                if m.delivered_at is not None and (
                        fig.first_delivered is None or m.delivered_at < fig.first_delivered):
                    fig.first_delivered = m.delivered_at
                if state in SENT_STATES:
                    fig.channels_worked.add(m.channel)
                elif state == "failed_perm":
                    fig.channels_failed.add(m.channel)


def _add_timers(conn: Connection, incident_id: int, figures: dict[str, CommunityFigures],
                declared: datetime) -> None:
    t = Timer.__table__
    stmt = (sa.select(t.c.community_id, t.c.kind, t.c.round, t.c.step_index, t.c.notify,
                      t.c.fired_at)
            .where(t.c.incident_id == incident_id, t.c.state == "fired")
            .order_by(t.c.fired_at, t.c.id))
    for rows in conn.execution_options(yield_per=BATCH).execute(stmt).partitions():
        for r in rows:
            fig = figures.get(r.community_id)
            if fig is None or r.fired_at is None:
                continue
            minutes = max(0.0, (r.fired_at - declared).total_seconds() / 60)
            if r.kind == "escalation":
                fig.steps.append(StepTaken(minutes, r.round, r.step_index, r.notify))
            else:
                fig.followups.append(minutes)


def _add_acknowledgements(conn: Connection, incident_id: int,
                          figures: dict[str, CommunityFigures], include_pii: bool) -> None:
    t = Event.__table__
    rows = conn.execute(sa.select(t.c.community_id, t.c.actor, t.c.data)
                        .where(t.c.incident_id == incident_id,
                               t.c.kind == "community.acknowledged")
                        .order_by(t.c.at, t.c.id)).all()
    for r in rows:
        fig = figures.get(r.community_id or "")
        if fig is not None and fig.ack_via is None:
            fig.ack_via = (r.data or {}).get("via")
    if include_pii:
        _add_acknowledger_names(conn, figures, incident_id)


def _add_acknowledger_names(conn: Connection, figures: dict[str, CommunityFigures],
                            incident_id: int) -> None:
    t = IncidentCommunity.__table__
    who = {r.community_id: r.acknowledged_by for r in conn.execute(
        sa.select(t.c.community_id, t.c.acknowledged_by).where(
            t.c.incident_id == incident_id, t.c.acknowledged_by.is_not(None)))}
    contacts = {i.split(":", 1)[1] for i in who.values() if i.startswith("contact:")}
    staff = {i.split(":", 1)[1] for i in who.values() if i.startswith("staff:")}
    names = {f"contact:{r.id}": r.name for r in conn.execute(
        sa.select(Contact.__table__.c.id, Contact.__table__.c.name)
        .where(Contact.__table__.c.id.in_(sorted(contacts))))} if contacts else {}
    names.update({f"staff:{r.id}": r.name for r in conn.execute(
        sa.select(Staff.__table__.c.id, Staff.__table__.c.name)
        .where(Staff.__table__.c.id.in_(sorted(staff))))} if staff else {})
    for cid, by in who.items():
        if cid in figures:
            figures[cid].acknowledged_by_name = names.get(by)


def _add_tasks(conn: Connection, incident_id: int, figures: dict[str, CommunityFigures],
               playbook: Playbook, reference: datetime) -> list[TaskState]:
    t = IncidentTask.__table__
    rows = conn.execute(sa.select(t.c.community_id, t.c.task_id, t.c.kind, t.c.due_at,
                                  t.c.done_at)
                        .where(t.c.incident_id == incident_id)
                        .order_by(t.c.due_at, t.c.id)).all()
    incident_tasks: list[TaskState] = []
    for r in rows:
        task = playbook.tasks.get(r.task_id)
        state = task_state(r.due_at, r.done_at, reference)
        item = TaskState(r.task_id, dict(task.title) if task else {}, r.kind, r.due_at,
                         r.done_at, state)
        if r.community_id == "":
            incident_tasks.append(item)
        elif r.community_id in figures:
            figures[r.community_id].tasks.append(item)
    return incident_tasks


def task_state(due: datetime, done: datetime | None, reference: datetime) -> str:
    """done, late (done after due), overdue (not done, due before `reference`), or open."""
    if done is not None:
        return "late" if done > due else "done"
    return "overdue" if due < reference else "open"


def _add_answers(conn: Connection, incident_id: int, figures: dict[str, CommunityFigures],
                 playbook: Playbook, include_pii: bool) -> None:
    t = IntakeAnswer.__table__
    # the current answers, as the board reads them (a later answer replaces an earlier one)
    stmt = (sa.select(t.c.community_id, t.c.form_id, t.c.answers, t.c.at)
            .where(t.c.incident_id == incident_id, t.c.replaced_at.is_(None))
            .order_by(t.c.at, t.c.id))
    for rows in conn.execution_options(yield_per=BATCH).execute(stmt).partitions():
        for r in rows:
            fig = figures.get(r.community_id)
            if fig is None:
                continue
            form = playbook.intake_forms.get(r.form_id)
            answers = r.answers or {}
            adds = form.option_tasks if form else {}
            for qid, oid in chosen_options(answers, form):
                if (r.form_id, qid, oid) not in fig.needs:
                    fig.needs.append((r.form_id, qid, oid))
                if (qid, oid) in adds:
                    fig.need_tasks.add(adds[(qid, oid)])
            if fig.needs_at is None:
                fig.needs_at = r.at
            if include_pii:
                fig.remarks += [text[:2000] for text in free_texts(answers, form)]


def _channel_totals(conn: Connection, incident_id: int) -> dict[str, Counter[str]]:
    t = Message.__table__
    rows = conn.execute(sa.select(t.c.channel, t.c.state, sa.func.count())
                        .where(t.c.incident_id == incident_id,
                               t.c.recipient_kind == "contact")
                        .group_by(t.c.channel, t.c.state)).all()
    out: dict[str, Counter[str]] = {}
    for channel, state, n in rows:
        counter = out.setdefault(channel, Counter())
        counter[_state_word(str(state))] += n
        if str(state) in SENT_STATES:
            counter["sent"] += n
    return out


def _state_word(state: str) -> str:
    return {"delivered": "delivered", "accepted": "accepted", "failed_perm": "failed",
            "ambiguous": "unknown", "cancelled": "cancelled"}.get(state, "queued")


def _count(conn: Connection, table: Any, incident_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)
                        .where(table.c.incident_id == incident_id)).scalar_one()


def need_label(playbook: Playbook, need: tuple[str, str, str], lang: str) -> str:
    """The label of a chosen option in a language."""
    from engine.reports.i18n import label

    form_id, qid, oid = need
    form = playbook.intake_forms.get(form_id)
    question = next((q for q in form.questions if q.id == qid), None) if form else None
    option = next((o for o in question.options if o.id == oid), None) if question else None
    return label(dict(option.label), lang, oid) if option else oid
