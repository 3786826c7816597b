"""Who may take back a claim: never a living process's, never a process's own.

A cycle runs on a thread while its first send is held at the provider, so the claims stand
still; another worker's recovery (or the same worker's) runs meanwhile. On PostgreSQL the life
lock alone decides; on SQLite the beaten `worker` row does, and a claim's age only counts for a
claim whose process has no row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Event, Message, WorkerBeat
from engine.wiring import AppContext, build_worker
from engine.worker import Worker
from notifiers.base import OutboundMessage, Outcome, SendResult
from tests.engine_support import ENGINE_REGISTRY, make_ctx

TIMEOUT = timedelta(seconds=120)  # the claim timeout of these tests (the default)


class HoldingFirst:
    """A channel that holds the first send it is given until released, and accepts all."""

    channel = "sms"

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> SendResult:
        with self._lock:
            first = not self.sent
            self.sent.append(message.reference)
        if first:
            self.entered.set()
            assert self.release.wait(timeout=10), "never released"
        return SendResult(Outcome.ACCEPTED, provider_id=f"SM{message.reference}")


@pytest.fixture
def channel() -> HoldingFirst:
    return HoldingFirst()


@pytest.fixture
def live_ctx(any_engine: Engine, clock: FakeClock, tmp_path: Path,
             channel: HoldingFirst) -> AppContext:
    """The engine registry on SQLite or PostgreSQL; one sending thread, so that while the first
    send is held the other claimed messages wait in the send queue."""
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    ctx = make_ctx(any_engine, clock, tmp_path, send_concurrency=1,
                   claim_timeout_seconds=TIMEOUT.total_seconds())
    ctx.channels_override = {"sms": channel, "email": channel}
    return ctx


@pytest.fixture
def held_cycle(live_ctx: AppContext, declare, channel: HoldingFirst) -> Iterator[Worker]:
    """A one-off cycle (as `incident declare` runs it) on a thread, its first send held."""
    declare(app=live_ctx)
    cycle = build_worker(live_ctx, name="cli-1")
    done: dict[str, object] = {}
    thread = threading.Thread(target=lambda: done.setdefault("result", cycle.run_cycle()))
    thread.start()
    try:
        assert channel.entered.wait(timeout=10), "the cycle started sending"
        yield cycle
    finally:
        channel.release.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert done["result"].sent == {"accepted": 3}  # type: ignore[attr-defined]
    with session_scope(live_ctx.engine) as session:
        assert {m.state for m in session.exec(select(Message))} == {"accepted"}
        taken = session.exec(select(Event).where(Event.actor == "recovery")).all()
    assert taken == [], "no claim of the living process was taken back"
    assert sorted(channel.sent) == sorted(set(channel.sent)), "each message sent once"


def claims(ctx: AppContext) -> dict[str, str | None]:
    with session_scope(ctx.engine) as session:
        return {m.state: m.claimed_by for m in session.exec(select(Message))}


def beat_as_its_thread_would(worker: Worker) -> None:
    """The beat the process's heartbeat thread makes every few seconds (the fake clock moved
    faster than real seconds passed)."""
    assert worker._life is not None, "the cycle holds a life while it sends"
    worker._life.beat()


def test_another_worker_leaves_the_claims_of_a_cycle_that_is_sending(
        live_ctx, held_cycle, clock) -> None:
    assert claims(live_ctx) == {"sending": "cli-1", "claimed": "cli-1"}
    clock.advance(TIMEOUT * 2)  # the claims are old: on PostgreSQL age does not count
    beat_as_its_thread_would(held_cycle)

    other = build_worker(live_ctx, name="worker-2")
    if other.on_postgres:
        assert other.is_alive("cli-1"), "the cycle holds its life lock while it sends"
    assert other.run_cycle().recovered == 0
    assert claims(live_ctx) == {"sending": "cli-1", "claimed": "cli-1"}


def test_a_worker_never_takes_back_its_own_claims(live_ctx, held_cycle, clock) -> None:
    clock.advance(TIMEOUT * 2)
    held_cycle.wake()  # its own firing (with recovery) while its sending waits
    assert claims(live_ctx) == {"sending": "cli-1", "claimed": "cli-1"}


def test_claims_waiting_in_the_send_queue_are_kept_fresh(live_ctx, channel, declare,
                                                         monkeypatch, clock) -> None:
    from engine.outreach import dispatcher

    renewed = threading.Event()
    original = dispatcher.renew_claims

    def renew_and_tell(*args, **kwargs):  # type: ignore[no-untyped-def]
        count = original(*args, **kwargs)
        renewed.set()
        return count

    monkeypatch.setattr(dispatcher, "renew_claims", renew_and_tell)
    declare(app=live_ctx)
    cycle = build_worker(live_ctx, name="cli-1")
    thread = threading.Thread(target=cycle.run_cycle)
    thread.start()
    try:
        assert channel.entered.wait(timeout=10)
        claimed_at = clock.now()
        clock.advance(TIMEOUT / 4)  # a renewal is due
        assert renewed.wait(timeout=10), "the claims waiting in the queue were renewed"
        with session_scope(live_ctx.engine) as session:
            waiting = session.exec(select(Message).where(Message.state == "claimed")).all()
            sending = session.exec(select(Message).where(Message.state == "sending")).one()
        assert waiting and {m.claimed_at for m in waiting} == {clock.now()}
        assert sending.claimed_at == claimed_at, "the one being sent keeps when it began"
    finally:
        channel.release.set()
        thread.join(timeout=10)


def add_claimed(engine: Engine, key: str, worker: str, at, state: str = "claimed") -> None:
    with session_scope(engine) as session:
        session.add(Message(dedupe_key=key, community_ids=["c"], recipient_kind="contact",
                            recipient_id="p", channel="sms", address=f"+3161111{len(key):04d}",
                            locale="nl", body="x", step="s", state=state, claimed_by=worker,
                            claimed_at=at, created_at=at, updated_at=at))


def test_on_sqlite_a_claim_is_taken_back_when_its_process_stopped_beating(
        sqlite_engine, clock, tmp_path) -> None:
    ctx = make_ctx(sqlite_engine, clock, tmp_path)
    start = clock.now()
    with session_scope(sqlite_engine) as session:
        for name in ("beating", "silent"):
            session.add(WorkerBeat(id=name, kind="worker", started_at=start, seen_at=start))
    add_claimed(sqlite_engine, "a", "beating", start)
    add_claimed(sqlite_engine, "bb", "silent", start)
    add_claimed(sqlite_engine, "ccc", "rowless", start, state="sending")
    clock.advance(TIMEOUT + timedelta(seconds=1))
    with session_scope(sqlite_engine) as session:
        session.get(WorkerBeat, "beating").seen_at = clock.now()

    assert build_worker(ctx, name="recoverer").run_cycle().recovered == 2
    with session_scope(sqlite_engine) as session:
        states = {m.dedupe_key: (m.state, m.claimed_by) for m in session.exec(select(Message))}
    assert states == {"a": ("claimed", "beating"), "bb": ("pending", None),
                      "ccc": ("ambiguous", "rowless")}


def test_a_process_holds_its_row_while_it_lives(any_engine, clock, tmp_path) -> None:
    ctx = make_ctx(any_engine, clock, tmp_path)
    worker = build_worker(ctx, name="w-1")
    worker.start()
    try:
        with session_scope(any_engine) as session:
            row = session.get(WorkerBeat, "w-1")
        assert (row.kind, row.started_at, row.seen_at) == ("worker", clock.now(), clock.now())
        if worker.on_postgres:
            assert build_worker(ctx, name="w-2").is_alive("w-1")
    finally:
        worker.stop()
    with session_scope(any_engine) as session:
        assert session.exec(select(WorkerBeat)).all() == []
    if worker.on_postgres:
        assert not build_worker(ctx, name="w-2").is_alive("w-1")
