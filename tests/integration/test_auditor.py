"""The auditor raises a silent community once, also when two workers look at the same moment.

Two raisers run on two threads, each with a connection of its own (as two worker processes),
with clocks a second apart. On PostgreSQL both are held at a barrier after each found the
community silent and before either raised it; on SQLite, whose writers take turns, they start
together.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.escalation import auditor
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Event, Message
from engine.wiring import build_worker
from tests.engine_support import ENGINE_REGISTRY, make_ctx
from tests.tampering import bypass_append_only

WAIT = 10


@pytest.fixture
def quiet(any_engine: Engine, clock: FakeClock, tmp_path: Path, declare):
    """An incident whose buurt-d fired its only step 31 minutes ago: it is silent now."""
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    ctx = make_ctx(any_engine, clock, tmp_path)
    declare(app=ctx)
    build_worker(ctx, name="first").run_cycle()
    clock.advance(timedelta(minutes=31))
    return ctx


def test_two_workers_raising_at_the_same_moment_raise_a_community_once(quiet, monkeypatch):
    engine = quiet.engine
    on_postgres = engine.dialect.name == "postgresql"
    barrier = threading.Barrier(2, timeout=WAIT)
    looked = threading.local()
    original = auditor.silent_communities

    def silent_then_meet(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = original(*args, **kwargs)
        if on_postgres and not getattr(looked, "once", False):
            looked.once = True
            assert found, "each raiser found the community silent"
            barrier.wait()  # both have looked; neither has raised
        return found

    monkeypatch.setattr(auditor, "silent_communities", silent_then_meet)
    raised: dict[str, int] = {}
    errors: list[BaseException] = []

    def raiser(name: str, seconds: int) -> None:
        try:
            if not on_postgres:
                barrier.wait()  # SQLite writers take turns: start together
            with session_scope(engine) as session:
                raised[name] = auditor.raise_silent(
                    session, now=quiet.clock.now() + timedelta(seconds=seconds),
                    links=quiet.links, worker=name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=raiser, args=(f"w{n}", n)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert not errors, errors
    assert sorted(raised.values()) == [0, 1]
    with session_scope(engine) as session:
        silent = session.exec(select(Event).where(Event.kind == "community.silent")).all()
        audits = session.exec(select(Message).where(Message.step == "audit")).all()
    assert [e.community_id for e in silent] == ["buurt-d"]
    assert [(m.recipient_id, m.community_ids) for m in audits] == [("st-coord", ["buurt-d"])]


def test_the_audit_message_key_does_not_hold_the_time(quiet):
    """Were a community raised twice (its first event lost to a second look), the coordinators
    still get one message about it, not one per minute it was looked at."""
    for minutes in (0, 1):
        with session_scope(quiet.engine) as session:
            assert auditor.raise_silent(
                session, now=quiet.clock.now() + timedelta(minutes=minutes), links=quiet.links,
                worker="w") == 1
            bypass_append_only(session.connection())  # the event lost, as if never written
            for event in session.exec(select(Event).where(Event.kind == "community.silent")):
                session.delete(event)
    with session_scope(quiet.engine) as session:
        audits = session.exec(select(Message).where(Message.step == "audit")).all()
    assert [(m.recipient_id, m.community_ids) for m in audits] == [("st-coord", ["buurt-d"])]
