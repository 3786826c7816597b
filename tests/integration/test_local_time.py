"""A follow-up keeps local time across a clock change; steps in minutes keep elapsed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from engine.clock import FakeClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.store.models import Event, IncidentTask, Timer
from engine.wiring import build_worker
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY, make_ctx

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(("declared", "followup_due"), [
    # Saturday 10:00 winter time; the clocks go forward that night: Sunday 10:00 summer time
    (datetime(2027, 3, 27, 10, 0, tzinfo=AMS), datetime(2027, 3, 28, 8, 0, tzinfo=UTC)),
    # Saturday 10:00 summer time; the clocks go back that night: Sunday 10:00 winter time
    (datetime(2027, 10, 30, 10, 0, tzinfo=AMS), datetime(2027, 10, 31, 9, 0, tzinfo=UTC)),
])
def test_a_one_day_followup_fires_at_the_same_local_time_the_next_day(
    sqlite_engine, tmp_path, declared: datetime, followup_due: datetime
) -> None:
    clock = FakeClock(declared.astimezone(UTC))
    import_registry(sqlite_engine, [ENGINE_REGISTRY], clock=clock)
    ctx = make_ctx(sqlite_engine, clock, tmp_path)
    with session_scope(sqlite_engine) as session:
        declare_incident_flow(
            session, playbook=load_playbook(ENGINE_PLAYBOOK),  # aftercare-d1: due 1d
            incident=IncidentInput(type="attack", declared_at=clock.now(), title="Brand",
                                   fields={"target": "christian"}),
            snapshot=load_snapshot(session.connection()), now=clock.now())
        followup = session.exec(select(Timer).where(Timer.kind == "followup")).one()
        task = session.exec(select(IncidentTask).where(
            IncidentTask.task_id == "aftercare-d1")).one()
        steps = [t.due_at - clock.now() for t in session.exec(
            select(Timer).where(Timer.kind == "escalation", Timer.community_id == "kerk-c")
            .order_by(Timer.due_at))]
    assert followup.due_at == followup_due == task.due_at
    assert followup.due_at.astimezone(AMS).hour == 10
    # the escalation (minutes and a two-hour period) stays in elapsed time
    assert steps == [timedelta(minutes=m) for m in (0, 15, 30, 60, 120, 135, 150, 180)]

    worker = build_worker(ctx, name="local-time")
    clock.set(followup_due - timedelta(seconds=1))
    worker.run_cycle()
    assert fired_followups(sqlite_engine) == []
    clock.set(followup_due)
    worker.run_cycle()
    assert fired_followups(sqlite_engine) == [0.0]


def fired_followups(engine) -> list[float]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return [e.data["late_seconds"] for e in session.exec(
            select(Event).where(Event.kind == "timer.fired",
                                Event.data["step"].as_string() == "followup:aftercare-d1"))]
