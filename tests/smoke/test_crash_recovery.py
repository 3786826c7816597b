"""Workers that die: a claim left behind, a request the provider held, a long outage.

Real `verbinder worker` processes on PostgreSQL send with the real `twilio` library to the fake
Twilio server and with SMTP to aiosmtpd; they are killed with SIGKILL.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.incidents.views import show_incident
from engine.store.db import session_scope
from engine.store.models import Event, Message, Timer

from .fake_twilio import FakeTwilio
from .smtp_server import SmtpServer
from .workers import (
    WorkerProcesses,
    declare,
    execute,
    import_folder,
    scalar,
    wait_until,
    worker_env,
    worker_processes,
)

pytestmark = pytest.mark.postgres

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAYBOOK = FIXTURES / "engine" / "playbook.yaml"
REGISTRY = FIXTURES / "engine_registry"

AHMED = "+31611111101"  # primary of moskee-a and of moskee-b
AMAL = "+31611111102"  # backup of moskee-a
BORA = "+31611111103"  # primary of moskee-b
LIAISON = "+31622222201"
COORD = "+31622222203"
DIRK = "d1@example.org"  # primary of buurt-d, by email


@pytest.fixture
def store(pg_engine: Engine) -> Engine:
    """PostgreSQL with the engine test registry."""
    import_folder(pg_engine, REGISTRY)
    return pg_engine


@pytest.fixture
def workers(pg_url: str, fake_twilio: FakeTwilio, smtp_server: SmtpServer,
            tmp_path: Path) -> Iterator[WorkerProcesses]:
    """Worker processes on the test's database; a claim only goes stale when its worker's
    life lock is free (the age limit is an hour)."""
    env = worker_env(fake_twilio, smtp_server, VERBINDER_CLAIM_TIMEOUT_SECONDS="3600")
    yield from worker_processes(pg_url, PLAYBOOK, env, tmp_path)


def messages(engine: Engine, incident_id: int) -> list[Message]:
    with session_scope(engine) as session:
        return list(session.exec(select(Message).where(Message.incident_id == incident_id)
                                 .order_by(Message.id)))


def events(engine: Engine, kind: str) -> list[Event]:
    with session_scope(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(Event.id)))


def state_of(engine: Engine, incident_id: int, address: str) -> str | None:
    return scalar(engine, "SELECT state FROM message WHERE incident_id = :i AND address = :a",
                  i=incident_id, a=address)


def count_in(engine: Engine, incident_id: int, state: str) -> int:
    return scalar(engine, "SELECT count(*) FROM message WHERE incident_id = :i AND state = :s",
                  i=incident_id, s=state)


def test_a_claim_of_a_killed_worker_is_sent_exactly_once_after_restart(
    store, workers, fake_twilio, smtp_server, expected_sends
):
    expected_sends.sms(AHMED, BORA)
    expected_sends.email(DIRK)
    incident_id = declare(store, PLAYBOOK, type="attack", fields={"target": "islam"})

    claimed = workers.claim_and_die("claimer-that-dies")

    assert len(claimed) == 3
    held = messages(store, incident_id)
    assert [(m.state, m.claimed_by) for m in held] == [("claimed", "claimer-that-dies")] * 3
    assert fake_twilio.messages == [] and smtp_server.messages == []

    workers.start()
    wait_until(lambda: count_in(store, incident_id, "accepted") == 3, timeout=30,
               what="the claimed messages to be sent", check=workers.check_alive)

    recovered = events(store, "message.pending")
    assert sorted(e.data["message"] for e in recovered) == sorted(claimed)
    assert {(e.actor, e.data["recovered_from"], e.data["worker"]) for e in recovered} == {
        ("recovery", "claimed", "claimer-that-dies")}
    assert Counter(fake_twilio.recipients()) == Counter({AHMED: 1, BORA: 1})
    assert smtp_server.recipients() == [DIRK]


def test_a_worker_killed_while_the_provider_holds_the_request_is_settled_by_asking_it(
    store, workers, fake_twilio, smtp_server, expected_sends
):
    expected_sends.sms(AHMED, BORA, AMAL)
    expected_sends.email(DIRK)
    fake_twilio.fail_for(AHMED, "hang", times=1)
    incident_id = declare(store, PLAYBOOK, type="attack", fields={"target": "islam"})

    first = workers.start()
    assert fake_twilio.wait_for_held(1, timeout=30), workers.log(0)
    wait_until(lambda: state_of(store, incident_id, BORA) == "accepted"
               and state_of(store, incident_id, DIRK) == "accepted", timeout=30,
               what="the other first messages", check=workers.check_alive)
    assert state_of(store, incident_id, AHMED) == "sending"
    workers.kill(first)
    fake_twilio.release()  # Twilio made the message; nobody hears the answer

    workers.start()
    # recovery finds it `sending` by a dead worker: ambiguous; Twilio's list has it: settled
    wait_until(lambda: state_of(store, incident_id, AHMED) == "accepted", timeout=30,
               what="the held message to be settled by asking Twilio",
               check=workers.check_alive)

    (made,) = [m for m in fake_twilio.messages if m.to == AHMED]
    ahmed = next(m for m in messages(store, incident_id) if m.address == AHMED)
    assert ahmed.provider_id == made.sid
    assert [(e.actor, e.data["message"]) for e in events(store, "message.ambiguous")] == [
        ("recovery", ahmed.id)]
    assert [(e.actor, e.data["message"]) for e in events(store, "message.reconciled")] == [
        ("lookup", ahmed.id)]
    with session_scope(store) as session:
        shown = show_incident(session, incident_id)
    assert shown["summary"]["unknown"] == 0
    cli = workers.cli("incident", "show", str(incident_id), "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["summary"]["unknown"] == 0

    # escalation carries on: the backup step, made due now, still fires
    moved = execute(store, "UPDATE timer SET due_at = :now WHERE incident_id = :i AND round = 0"
                    " AND step_index = 1", now=datetime.now(UTC), i=incident_id)
    assert moved == 2  # moskee-a and moskee-b; only moskee-a has a backup
    wait_until(lambda: state_of(store, incident_id, AMAL) == "accepted", timeout=30,
               what="the backup step to be sent", check=workers.check_alive)
    assert [m.to for m in fake_twilio.messages].count(AHMED) == 1


def test_overdue_steps_fire_late_in_order_once_each_after_a_long_outage(
    store, workers, fake_twilio, smtp_server, expected_sends
):
    expected_sends.sms(AHMED, BORA, AMAL, LIAISON, COORD)
    expected_sends.email(DIRK)
    running = workers.start()
    wait_until(lambda: "running" in workers.log(0), timeout=30, what="the worker to start",
               check=workers.check_alive)
    workers.kill(running)  # the outage begins
    incident_id = declare(store, PLAYBOOK, type="attack", fields={"target": "islam"})
    outage = timedelta(minutes=65)  # steps at 0, 15, 30 and 60 minutes are now overdue
    execute(store, "UPDATE timer SET due_at = due_at - :d WHERE incident_id = :i",
            d=outage, i=incident_id)

    workers.start()
    wait_until(lambda: count_in(store, incident_id, "accepted") == 6, timeout=30,
               what="the overdue steps to be sent", check=workers.check_alive)

    with session_scope(store) as session:
        timers = list(session.exec(select(Timer).where(
            Timer.incident_id == incident_id, Timer.kind == "escalation", Timer.round == 0,
            Timer.community_id.in_(("moskee-a", "moskee-b")))))
    assert {(t.community_id, t.step_index, t.state) for t in timers} == {
        (c, s, "fired") for c in ("moskee-a", "moskee-b") for s in range(4)}
    fired = [e for e in events(store, "timer.fired") if e.community_id == "moskee-a"]
    assert [e.data["step"] for e in fired] == [
        "esc:r0:s0:primary", "esc:r0:s1:backup", "esc:r0:s2:liaison", "esc:r0:s3:oncall"]
    late = [e.data["late_seconds"] for e in fired]
    rows_a = sorted((t for t in timers if t.community_id == "moskee-a"),
                    key=lambda t: t.step_index)
    for seconds, timer, after in zip(late, rows_a, (0, 15, 30, 60), strict=True):
        assert seconds == pytest.approx((timer.fired_at - timer.due_at).total_seconds(), abs=0.01)
        assert seconds >= (65 - after) * 60
    by_timer = Counter(e.data["timer"] for e in events(store, "timer.fired"))
    assert set(by_timer.values()) == {1}
    with session_scope(store) as session:
        shown = show_incident(session, incident_id)
    assert [e["late_seconds"] for e in shown["timeline"]
            if e["kind"] == "timer.fired" and e["community"] == "moskee-a"] == late
    steps = Counter((m.address, m.step) for m in messages(store, incident_id))
    assert set(steps.values()) == {1}
    assert Counter(fake_twilio.recipients()) == Counter(
        {AHMED: 1, BORA: 1, AMAL: 1, LIAISON: 1, COORD: 1})
