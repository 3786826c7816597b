"""The outbox on both databases: one message per dedupe key, and per-address throttling."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlmodel import select

from engine.clock import FakeClock
from engine.outreach.dispatcher import dispatch
from engine.outreach.outbox import Draft, dedupe_key, enqueue, enqueue_all
from engine.outreach.policy import DispatchPolicy
from engine.store.db import make_engine, migrate, session_scope
from engine.store.models import IntakeToken, Message
from notifiers.base import OutboundMessage, Outcome, SendResult
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


def test_one_batch_with_a_key_twice_stores_one_message_and_its_links(any_engine,
                                                                     clock: FakeClock) -> None:
    token = {"purpose": "ack", "incident_id": 0, "community_ids": ["a"],
             "recipient_kind": "contact", "recipient_id": "p1", "form_id": None, "locale": "nl",
             "expires_at": clock.now(), "used_at": None}
    first = replace(draft("s0", "a"), tokens=({**token, "token_hash": "h1"},))
    second = replace(draft("s0", "b"), tokens=({**token, "token_hash": "h2"},))
    other = replace(draft("s0", "c", address="+31611111102"),
                    tokens=({**token, "token_hash": "h3"},))
    with session_scope(any_engine) as session:
        assert enqueue_all(session, [first, second, other], clock.now()) == 2
    with session_scope(any_engine) as session:
        rows = {m.address: m.community_ids for m in session.exec(select(Message))}
        stored = sorted(t.token_hash for t in session.exec(select(IntakeToken)))
    assert rows == {"+31611111101": ["a", "b"], "+31611111102": ["c"]}
    assert stored == ["h1", "h3"], "the links of a body that is not sent are not stored"


class Refusing:
    """A channel that refuses every message for good (the path that writes through the ORM),
    answering only when `together` sends are in flight at once."""

    channel = "sms"

    def __init__(self, together: int) -> None:
        self.barrier = threading.Barrier(together, timeout=10)

    def send(self, message: OutboundMessage) -> SendResult:
        self.barrier.wait()
        return SendResult(Outcome.PERMANENT, detail="refused")


def test_more_sending_threads_than_connections_do_not_run_the_pool_dry(
        sqlite_url: str, clock: FakeClock) -> None:
    """25 sending threads, all in flight at once, on a pool of 1 + 20 connections: a thread
    holds a connection only while the pool has a standing one to spare, and a refusal is
    recorded through the connection its thread already has."""
    engine = make_engine(sqlite_url, connections=1)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            for i in range(50):
                enqueue(session, draft("s0", f"c{i}", address=f"+316111112{i:02d}"), clock.now())
        counts = dispatch(engine, worker="w", clock=clock, channels={"sms": Refusing(25)},
                          policy=DispatchPolicy(concurrency=25), fallback=lambda *_: None)
        assert counts == {"permanent": 50}
        with session_scope(engine) as session:
            assert {m.state for m in session.exec(select(Message))} == {"failed_perm"}
    finally:
        engine.dispose()


class HoldingFirst:
    """A channel that holds the message to one address until released, and accepts the rest."""

    channel = "sms"

    def __init__(self, held: str, others: int) -> None:
        self.held, self.others = held, others
        self.release = threading.Event()
        self.others_sent = threading.Event()
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> SendResult:
        if message.to == self.held:
            assert self.release.wait(timeout=10), "never released"
        with self._lock:
            self.sent.append(message.to)
            if len([to for to in self.sent if to != self.held]) == self.others:
                self.others_sent.set()
        return SendResult(Outcome.ACCEPTED, provider_id=f"SM{len(self.sent)}")


def test_one_slow_send_does_not_hold_back_the_next_batch(any_engine, clock: FakeClock) -> None:
    """Batches of 2 on 2 threads: while the first message hangs at the provider, the other
    thread goes on through the next batches instead of waiting for its batch to end."""
    addresses = [f"+3161111130{i}" for i in range(6)]
    with session_scope(any_engine) as session:
        for i, address in enumerate(addresses):
            enqueue(session, draft("s0", f"c{i}", address=address), clock.now())
    channel = HoldingFirst(addresses[0], others=5)
    result: dict[str, dict[str, int]] = {}

    def run() -> None:
        result["counts"] = dispatch(any_engine, worker="w", clock=clock, channels={"sms": channel},
                                    policy=DispatchPolicy(concurrency=2, batch=2),
                                    fallback=lambda *_: None)

    sender = threading.Thread(target=run)
    sender.start()
    try:
        assert channel.others_sent.wait(timeout=10), f"only {channel.sent} went out"
        assert addresses[0] not in channel.sent
    finally:
        channel.release.set()
        sender.join(timeout=10)
    assert result["counts"] == {"accepted": 6}
    with session_scope(any_engine) as session:
        assert {m.state for m in session.exec(select(Message))} == {"accepted"}
