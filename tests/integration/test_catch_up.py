"""Staff hear the truth after a catch-up, and a message handed to a provider gains nothing later.

On a fake clock, on SQLite and PostgreSQL, with the console channels.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.outreach.outbox import Draft, dedupe_key, enqueue
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import IntakeToken, Message, Timer
from engine.wiring import AppContext, build_worker
from tests.engine_support import ENGINE_REGISTRY, make_ctx, sent_to

AHMED = "+31611111101"  # primary of moskee-a and of moskee-b
AMAL = "+31611111102"  # backup of moskee-a
LIAISON = "+31622222201"


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    return make_ctx(any_engine, clock, tmp_path)


def messages(app: AppContext) -> list[Message]:
    with session_scope(app.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def test_a_staff_step_fired_with_overdue_contact_steps_names_those_contacts(app, declare):
    declare(app=app)
    app.clock.advance(timedelta(minutes=35))  # down through primary, backup and liaison
    build_worker(app, name="back").run_cycle()

    liaison = [m for m in messages(app) if m.address == LIAISON]
    assert [(m.step, m.community_ids) for m in liaison] == [("esc:r0:s2:liaison",
                                                            ["moskee-a", "moskee-b"])]
    body = liaison[0].body
    # moskee-a: Ahmed (primary) and Amal (backup) were messaged in this same cycle
    assert "Moskee A (Ahmed Een sms " + AHMED + "; Amal Twee sms " + AMAL + ")" in body
    assert "Moskee B (Ahmed Een sms " + AHMED + "; Bora Een sms" in body


def test_a_community_fired_after_its_contact_was_messaged_gets_a_message_of_its_own(
        app, declare, tmp_path):
    incident_id = declare(app=app)
    with session_scope(app.engine) as session:  # moskee-b's first step comes 5 minutes later
        timer = session.exec(select(Timer).where(
            Timer.incident_id == incident_id, Timer.community_id == "moskee-b",
            Timer.kind == "escalation", Timer.round == 0, Timer.step_index == 0)).one()
        timer.due_at += timedelta(minutes=5)
    worker = build_worker(app, name="w")
    worker.run_cycle()
    first = [m for m in messages(app) if m.address == AHMED]
    assert [(m.state, m.community_ids) for m in first] == [("accepted", ["moskee-a"])]

    app.clock.advance(timedelta(minutes=5))
    worker.run_cycle()

    to_ahmed = [(m.state, m.community_ids) for m in messages(app) if m.address == AHMED]
    assert to_ahmed == [("accepted", ["moskee-a"]), ("accepted", ["moskee-b"])], \
        "the message already sent kept its communities; moskee-b got a message of its own"
    assert len(sent_to(app, tmp_path, "sms", AHMED)) == 2
    with session_scope(app.engine) as session:
        links = sorted((t.community_ids, t.purpose) for t in session.exec(
            select(IntakeToken).where(IntakeToken.recipient_id.in_(("a1", "b2")))))
    assert (["moskee-b"], "ack") in links, "the late message carries links of its own"


def draft(community: str, key: str = "k") -> Draft:
    return Draft(dedupe_key=dedupe_key(None, f"contact:sms:{AHMED}", key, "sms"),
                 incident_id=None, community_ids=[community], recipient_kind="contact",
                 recipient_id="a1", channel="sms", address=AHMED, locale="nl",
                 body=f"over {community}", step=key)


@pytest.mark.parametrize("state", ["claimed", "sending", "accepted", "delivered", "ambiguous",
                                   "failed_temp", "failed_perm", "cancelled"])
def test_a_message_beyond_the_queue_never_gains_communities(any_engine, clock, state):
    with session_scope(any_engine) as session:
        assert enqueue(session, draft("a"), clock.now())
    with session_scope(any_engine) as session:
        session.exec(select(Message)).one().state = state
    with session_scope(any_engine) as session:
        assert enqueue(session, draft("b"), clock.now()), "b gets a message of its own"
        assert not enqueue(session, draft("b"), clock.now()), "once"
        assert not enqueue(session, draft("a"), clock.now()), "a has its message"
    with session_scope(any_engine) as session:
        rows = [(m.state, m.community_ids, m.body) for m in session.exec(
            select(Message).order_by(Message.id))]
    assert rows == [(state, ["a"], "over a"), ("pending", ["b"], "over b")]


def test_a_message_still_waiting_in_the_queue_names_the_late_community_too(any_engine, clock):
    with session_scope(any_engine) as session:
        assert enqueue(session, draft("a"), clock.now())
        assert not enqueue(session, draft("b"), clock.now())
    with session_scope(any_engine) as session:
        rows = [(m.state, m.community_ids) for m in session.exec(select(Message))]
    assert rows == [("pending", ["a", "b"])]
