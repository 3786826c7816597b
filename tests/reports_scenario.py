"""A whole incident run through the engine, for the report tests (SQLite and PostgreSQL).

The shipped default playbook and a small registry with contacts in Arabic, Turkish, Polish,
English and Dutch: the attack on a mosque is declared, the first messages go out (console
channels), SMS are delivered (status callbacks applied), contacts answer by SMS (an
acknowledgement, intake digits) and through the intake page (with a free-text remark),
unanswered communities escalate to the liaison, staff mark one reached with a note,
follow-ups go out, and the incident is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from engine.inbound.service import apply_inbound_text, apply_status, record_intake
from engine.incidents.flows import acknowledge, close_incident, declare_incident_flow
from engine.oncall.importer import import_roster
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.store.models import IncidentTask, Message
from engine.wiring import AppContext, build_worker
from notifiers.base import DeliveryState, InboundText, StatusEvent
from playbook.loader import load_playbook
from playbook.model import IncidentInput

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "tests" / "fixtures" / "reports_registry"
PLAYBOOK = ROOT / "playbook" / "default" / "playbook.yaml"
YOUSSEF, MEHMET, RUTH = "+31612345601", "+31612345603", "+31612345607"
REMARK = "Graag surveillance bij het vrijdaggebed; bel Samira op 0612345602"
STAFF_NOTE = "Gebeld met Jan de Boer, alles rustig"
PERSONAL = ("Youssef", "Samira", "Mehmet", "Katarzyna", "Ruth Cohen", "Jan de Boer",
            "Dirk Visser", "Lina Haddad", "+316123456", "0612345602", "@example.org",
            "@example.net", "vrijdaggebed", "alles rustig")


@dataclass
class Smoke:
    """The incident and what the scenario put into it."""

    ctx: AppContext
    incident_id: int


def prepare_registry(ctx: AppContext) -> None:
    """The registry and the on-call roster of the scenario."""
    import_registry(ctx.engine, [REGISTRY], clock=ctx.clock)
    with session_scope(ctx.engine) as session:
        import_roster(session, REGISTRY / "oncall.csv")


def declare(ctx: AppContext, *, exercise: bool = False,
            title: str = "Vernieling bij Moskee An-Noor") -> int:
    """Declare the attack on moskee-noor (default playbook); its id."""
    incident = IncidentInput(
        type="attack_on_place_of_worship", declared_at=ctx.clock.now(), title=title,
        severity=4, area="BU09990101", exercise=exercise,
        fields={"target_faith": "islam", "target_community": "moskee-noor"})
    with session_scope(ctx.engine) as session:
        row, _ = declare_incident_flow(session, playbook=load_playbook(PLAYBOOK),
                                       incident=incident,
                                       snapshot=load_snapshot(session.connection()),
                                       now=ctx.clock.now())
        assert row.id is not None
        return row.id


def run_smoke_incident(ctx: AppContext, *, exercise: bool = False,
                       title: str = "Vernieling bij Moskee An-Noor") -> Smoke:
    """Run the whole incident on the context's fake clock; returns it closed."""
    clock = ctx.clock
    start = clock.now()
    incident_id = declare(ctx, exercise=exercise, title=title)
    worker = build_worker(ctx, name="report-smoke")

    def at(minutes: float) -> None:
        clock.set(start + timedelta(minutes=minutes))

    def cycle(minutes: float) -> None:
        at(minutes)
        worker.run_cycle()

    def sms(n: int, sender: str, body: str, minutes: float) -> None:
        at(minutes)
        with session_scope(ctx.engine) as session:
            text = InboundText(f"SMreply{incident_id}-{n}", sender, body)
            apply_inbound_text(session=session, text=text, now=clock.now())

    cycle(0)
    at(1)
    _deliver_sms(ctx, incident_id)
    sms(1, YOUSSEF, "نعم", 2)
    sms(2, MEHMET, "1 2", 5)
    cycle(15)
    at(20)
    with session_scope(ctx.engine) as session:
        record_intake(session, incident_id=incident_id, community_ids=["moskee-noor"],
                      contact_id="p1", form_id="needs",
                      answers={"needs": ["security", "aftercare"], "remarks": REMARK},
                      source="web", now=clock.now(), link="a" * 64)
    cycle(61)
    sms(3, RUTH, "OK", 70)
    cycle(121)
    cycle(181)
    at(190)
    with session_scope(ctx.engine) as session:
        acknowledge(session, incident_id=incident_id, community_ids=["kerk-oost"],
                    by="staff:st-kees", now=clock.now(), via="staff", note=STAFF_NOTE)
    cycle(241)
    cycle(24 * 60 + 1)
    at(24 * 60 + 30)
    tick(ctx, incident_id, "moskee-noor", "keep-contact-person")
    tick(ctx, incident_id, "", "inform-crisis-team", minutes=40)
    at(25 * 60)
    with session_scope(ctx.engine) as session:
        close_incident(session, incident_id=incident_id, now=clock.now(), actor="staff:cli")
    return Smoke(ctx, incident_id)


def _deliver_sms(ctx: AppContext, incident_id: int) -> None:
    """Delivery reports for the first SMS to Youssef and Mehmet, as Twilio would post them."""
    with session_scope(ctx.engine) as session:
        sent = session.exec(select(Message).where(
            Message.incident_id == incident_id, Message.channel == "sms",
            Message.address.in_([YOUSSEF, MEHMET]))).all()
        for m in sent:
            assert m.provider_id
            apply_status(session=session, event=StatusEvent(m.provider_id, "delivered",
                                                            DeliveryState.DELIVERED),
                         now=ctx.clock.now(), fallback=ctx.fallback)


def tick(ctx: AppContext, incident_id: int, community: str, task: str,
          minutes: float | None = None) -> None:
    """Staff tick a task (late): at the clock's time, or `minutes` after the declaration."""
    with session_scope(ctx.engine) as session:
        row = session.exec(select(IncidentTask).where(
            IncidentTask.incident_id == incident_id, IncidentTask.community_id == community,
            IncidentTask.task_id == task)).one()
        row.done_at = (row.due_at - timedelta(hours=1) + timedelta(minutes=minutes)
                       if minutes is not None else ctx.clock.now())
        row.done_by = "staff:st-kees"
