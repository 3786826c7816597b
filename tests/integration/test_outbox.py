"""The outbox on both databases: one message per dedupe key, and per-address throttling."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from engine.clock import FakeClock
from engine.outreach.dispatcher import DispatchPolicy, dispatch
from engine.outreach.outbox import Draft, dedupe_key, enqueue
from engine.store.db import session_scope
from engine.store.models import Message
from notifiers.console import ConsoleNotifier


def draft(step: str, community: str, address: str = "+31611111101") -> Draft:
    return Draft(dedupe_key=dedupe_key(None, f"contact:sms:{address}", step, "sms"),
                 incident_id=None, community_ids=[community], recipient_kind="contact",
                 recipient_id="p1", channel="sms", address=address, locale="nl", body="Hallo",
                 step=step)


def test_one_message_per_key_naming_every_community(any_engine, clock: FakeClock) -> None:
    with session_scope(any_engine) as session:
        assert enqueue(session, draft("s0", "a"), clock.now()) is True
        assert enqueue(session, draft("s0", "b"), clock.now()) is False
        assert enqueue(session, draft("s0", "a"), clock.now()) is False
    with session_scope(any_engine) as session:
        rows = list(session.exec(select(Message)))
    assert len(rows) == 1 and rows[0].community_ids == ["a", "b"]


def test_a_person_gets_no_burst_of_messages(any_engine, clock: FakeClock, tmp_path) -> None:
    with session_scope(any_engine) as session:
        enqueue(session, draft("s0", "a"), clock.now())
        enqueue(session, draft("followup", "a"), clock.now())
        enqueue(session, draft("s0", "a", address="+31611111102"), clock.now())
    channels = {"sms": ConsoleNotifier("sms", tmp_path)}
    policy = DispatchPolicy(per_address_interval=timedelta(seconds=30))

    def run() -> dict[str, int]:
        return dispatch(any_engine, worker="w", clock=clock, channels=channels, policy=policy,
                        fallback=lambda *_: None)

    assert run() == {"accepted": 2}
    with session_scope(any_engine) as session:
        waiting = session.exec(select(Message).where(Message.state == "pending")).one()
    assert waiting.step == "followup"
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    assert run() == {}
    clock.advance(timedelta(seconds=1))
    assert run() == {"accepted": 1}
