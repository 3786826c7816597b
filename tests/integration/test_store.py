"""The store migrates on both databases and the migrations match the models."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.store.db import alembic_config, session_scope
from engine.store.models import Meta


def test_migrations_match_models(any_engine: Engine) -> None:
    """`alembic check` finds nothing to generate: the models and migrations agree."""
    command.check(alembic_config(any_engine))


def test_a_frozen_checklist_is_read_once_per_process(ctx, declare) -> None:
    from engine.playbooks.frozen import load_incidents

    incident_id = declare()
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT incident.checklist"):
            reads.append(statement)

    sa.event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            with session_scope(ctx.engine) as session:
                incident = load_incidents(session, [incident_id, 999])
                assert incident[999] is None
                ids = [c["id"] for c in incident[incident_id].checklist["communities"]]
                assert sorted(ids) == ["buurt-d", "moskee-a", "moskee-b"]
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", count)
    assert len(reads) == 1


def test_a_failed_transaction_gives_the_sqlite_write_turn_back(sqlite_engine: Engine) -> None:
    """Writers of one process queue on a lock; a transaction that fails must release it, or
    the next writer would wait out the whole busy timeout."""
    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
        session.exec(select(Meta)).all()
        raise RuntimeError("boom")
    done = threading.Event()

    def write() -> None:
        with session_scope(sqlite_engine) as session:
            session.add(Meta(key="k", value="v"))
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=5)
    assert done.is_set(), "the next writer got its turn"


def test_writers_in_many_threads_all_commit(sqlite_engine: Engine) -> None:
    def write(n: int) -> None:
        for i in range(20):
            with session_scope(sqlite_engine) as session:
                session.add(Meta(key=f"t{n}-{i}", value=str(i)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with session_scope(sqlite_engine) as session:
        assert len(session.exec(select(Meta)).all()) == 160
