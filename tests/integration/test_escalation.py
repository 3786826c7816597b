"""Escalation on a fake clock: a whole policy run, stopped by acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from engine.clock import FakeClock
from engine.inbound.service import apply_inbound_text
from engine.incidents.flows import acknowledge, declare_incident_flow
from engine.incidents.views import show_incident
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.store.models import Event, Message, Shift, Timer
from engine.wiring import build_worker
from notifiers.base import InboundText
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY, make_ctx, sent_to

AHMED = "+31611111101"  # primary of moskee-a and of moskee-b
AMAL = "+31611111102"  # backup of moskee-a
BORA = "+31611111103"  # primary of moskee-b
LIAISON = "+31622222201"
ONCALL = "+31622222202"
COORD = "+31622222203"


def reply(ctx, sender: str, body: str, sid: str) -> str:
    with session_scope(ctx.engine) as session:
        return apply_inbound_text(session=session, text=InboundText(sid, sender, body),
                                  now=ctx.clock.now())


def sms_to(ctx, tmp_path: Path, address: str) -> list[dict]:
    return sent_to(ctx, tmp_path, "sms", address)


def messages(ctx) -> list[Message]:
    with session_scope(ctx.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def test_full_policy_run_stops_at_first_acknowledgement(ctx, declare, worker, tmp_path):
    incident_id = declare()
    start = ctx.clock.now()

    worker.run_cycle()  # round 0, step 0: primaries
    first = messages(ctx)
    ahmed = [m for m in first if m.address == AHMED]
    assert len(ahmed) == 1, "one message for a person who is primary of two communities"
    assert ahmed[0].community_ids == ["moskee-a", "moskee-b"]
    assert sorted(m.address for m in first if m.channel == "sms") == [AHMED, BORA]
    assert [m.address for m in first if m.channel == "email"] == ["d1@example.org"]
    assert all(m.state == "accepted" for m in first)
    assert len(sms_to(ctx, tmp_path, AHMED)) == 1

    ctx.clock.advance(timedelta(minutes=15))  # step 1: backup (moskee-b has none)
    worker.run_cycle()
    assert len(sms_to(ctx, tmp_path, AMAL)) == 1
    assert reply(ctx, AMAL, " ok! ", "SMin1") == "ack"  # moskee-a is reached

    ctx.clock.advance(timedelta(minutes=15))  # step 2: liaison, for moskee-b only
    worker.run_cycle()
    to_liaison = sms_to(ctx, tmp_path, LIAISON)
    assert len(to_liaison) == 1
    liaison_msg = next(m for m in messages(ctx) if m.address == LIAISON)
    assert liaison_msg.community_ids == ["moskee-b"]
    assert "Moskee B" in liaison_msg.body and "Moskee A" not in liaison_msg.body
    assert AHMED in liaison_msg.body, "staff are told how to reach who was tried"

    ctx.clock.advance(timedelta(minutes=30))  # step 3: on call; nobody is, so coordinators
    worker.run_cycle()
    assert sms_to(ctx, tmp_path, ONCALL) == []
    to_coord = [m for m in messages(ctx) if m.address == COORD]
    assert len(sms_to(ctx, tmp_path, COORD)) == 2
    assert sorted(m.step for m in to_coord) == ["audit", "esc:r0:s3:oncall"]
    oncall = next(m for m in to_coord if m.step == "esc:r0:s3:oncall")
    assert oncall.body.startswith("Niemand heeft dienst."), "the fallback says so"
    audit = next(m for m in to_coord if m.step == "audit")
    assert audit.community_ids == ["buurt-d"], "the auditor raises the quiet community"
    with session_scope(ctx.engine) as session:
        fired = session.exec(select(Event).where(Event.kind == "timer.fired",
                                                 Event.data["notify"].as_string() == "oncall"))
        assert [e.data["note"] for e in fired] == ["nobody_on_call"]

    ctx.clock.set(start + timedelta(hours=2))  # round 1 starts: moskee-b only
    worker.run_cycle()
    round1 = [m for m in messages(ctx) if m.step.startswith("esc:r1")]
    assert sorted(m.address for m in round1) == [AHMED, BORA]
    assert all(m.community_ids == ["moskee-b"] for m in round1)

    with session_scope(ctx.engine) as session:
        acknowledge(session, incident_id=incident_id, community_ids=["moskee-b"],
                    by="staff:st-liaison", now=ctx.clock.now(), via="staff")
    before = len(messages(ctx))
    ctx.clock.set(start + timedelta(hours=4))
    worker.run_cycle()
    assert len(messages(ctx)) == before, "no step fires after the last acknowledgement"
    with session_scope(ctx.engine) as session:
        states = {t.state for t in session.exec(select(Timer).where(Timer.kind == "escalation"))}
        assert states == {"fired", "cancelled"}
        doc = show_incident(session, incident_id)
    reached = {c["id"]: c["acknowledged_by"] for c in doc["communities"]}
    assert reached["moskee-a"] == "contact:a2"
    assert reached["moskee-b"] == "staff:st-liaison"


def test_oncall_step_goes_to_whoever_is_on_call(ctx, declare, worker, tmp_path):
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        session.add(Shift(staff_id="st-oncall", starts_at=now, ends_at=now + timedelta(hours=8)))
    declare()
    ctx.clock.advance(timedelta(minutes=60))
    worker.run_cycle()
    assert len(sms_to(ctx, tmp_path, ONCALL)) == 1
    assert sms_to(ctx, tmp_path, COORD) == []


def test_followup_goes_to_primaries_even_after_acknowledgement(ctx, declare, worker, tmp_path):
    declare()
    worker.run_cycle()
    reply(ctx, AHMED, "JA", "SMa")
    ctx.clock.advance(timedelta(days=1))
    worker.run_cycle()
    followups = [m for m in messages(ctx) if m.step == "followup:aftercare-d1"]
    assert sorted(m.address for m in followups) == [AHMED, BORA]


def test_downtime_fires_overdue_steps_late_in_order_once(ctx, declare, worker, tmp_path):
    declare(target="christian")  # kerk-c: one email contact, standard policy
    ctx.clock.advance(timedelta(minutes=95))  # the worker was down through four steps
    worker.run_cycle()
    worker.run_cycle()
    with session_scope(ctx.engine) as session:
        fired = list(session.exec(select(Event).where(Event.kind == "timer.fired",
                                                      Event.community_id == "kerk-c")
                                  .order_by(Event.id)))
    steps = [e.data["step"] for e in fired]
    assert steps == ["esc:r0:s0:primary", "esc:r0:s1:backup", "esc:r0:s2:liaison",
                     "esc:r0:s3:oncall"]
    assert [e.data["late_seconds"] for e in fired] == [95 * 60, 80 * 60, 65 * 60, 35 * 60]


def test_dst_night_does_not_move_or_repeat_timers(sqlite_engine, tmp_path):
    # 01:30 Amsterdam winter time, 30 minutes before the clocks jump to 03:00 summer time.
    clock = FakeClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    import_registry(sqlite_engine, [ENGINE_REGISTRY], clock=clock)
    app = make_ctx(sqlite_engine, clock, tmp_path)
    with session_scope(sqlite_engine) as session:
        declare_incident_flow(
            session, playbook=load_playbook(ENGINE_PLAYBOOK),
            incident=IncidentInput(type="attack", declared_at=clock.now(), title="Nacht",
                                   fields={"target": "christian"}),
            snapshot=load_snapshot(session.connection()), now=clock.now())
        dues = [t.due_at for t in session.exec(select(Timer).where(
            Timer.kind == "escalation", Timer.community_id == "kerk-c").order_by(Timer.due_at))]
    # real elapsed time, not wall-clock time: 0, 15, 30, 60 minutes, then 2 hours later
    assert [(d - dues[0]).total_seconds() / 60 for d in dues] == [0, 15, 30, 60, 120, 135,
                                                                   150, 180]
    w = build_worker(app, name="dst")
    for _ in range(16):  # step through the night in 15-minute ticks
        w.run_cycle()
        clock.advance(timedelta(minutes=15))
    with session_scope(sqlite_engine) as session:
        fired = list(session.exec(select(Event).where(Event.kind == "timer.fired",
                                                      Event.community_id == "kerk-c")))
    assert len(fired) == 8
    assert len({e.data["timer"] for e in fired}) == 8
    assert max(e.data["late_seconds"] for e in fired) == 0

    clock.set(clock.now() - timedelta(hours=3))  # the clock is set back: nothing fires again
    w.run_cycle()
    with session_scope(sqlite_engine) as session:
        again = list(session.exec(select(Event).where(Event.kind == "timer.fired",
                                                      Event.community_id == "kerk-c")))
    assert len(again) == 8


def silent_events(ctx) -> list[str]:
    with session_scope(ctx.engine) as session:
        return [e.community_id for e in session.exec(
            select(Event).where(Event.kind == "community.silent"))]


def test_a_waking_worker_audits_once_a_minute(ctx, declare, worker):
    """The auditor's query is not run on every wake-up, yet a quiet community is raised
    within a minute of its 30 minutes of quiet."""
    declare()
    start = ctx.clock.now()
    worker.wake()  # buurt-d's only step fires; it is quiet from now on
    ctx.clock.set(start + timedelta(minutes=29, seconds=30))
    worker.wake()  # audits: quiet for 29.5 minutes is not yet silent
    assert silent_events(ctx) == []
    ctx.clock.set(start + timedelta(minutes=30))
    worker.wake()  # quiet long enough, but the last audit was 30 seconds ago
    assert silent_events(ctx) == []
    ctx.clock.set(start + timedelta(minutes=30, seconds=30))
    worker.wake()
    assert silent_events(ctx) == ["buurt-d"]
    ctx.clock.advance(timedelta(minutes=5))
    worker.wake()
    assert silent_events(ctx) == ["buurt-d"], "raised once"
