"""Read-only transactions on SQLite take no writer's turn and no write lock; the database
files are private.

A writer is held open with events (not sleeps); SQLite's busy timeout is cut to a second so
that a reader that does wait for the writer fails quickly instead of hanging the run.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from engine.cli import incident as incident_commands
from engine.store import db
from engine.store.db import make_engine, migrate, session_scope
from engine.store.models import Meta


@pytest.fixture(autouse=True)
def _short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that waits for the writer fails after a second, not thirty."""
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1.0)


@contextmanager
def writer_held(engine: Engine) -> Iterator[None]:
    """A write transaction on `engine` that stays open until the block ends."""
    held, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def hold() -> None:
        try:
            with session_scope(engine) as session:
                session.add(Meta(key="held", value="by a long declaration"))
                session.flush()
                held.set()
                release.wait(30)
        except BaseException as exc:  # shown by the test, not lost in the thread
            failed.append(exc)
            held.set()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(30)
    try:
        assert not failed, failed
        yield
    finally:
        release.set()
        thread.join(30)
    assert not failed, failed


@pytest.fixture(params=["same engine", "other engine"])
def writer_engine(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[
        Callable[[Engine], Engine]]:
    """Whose write is held: a thread of this process's engine, or another engine (as another
    process would, with a writer's turn of its own)."""
    others: list[Engine] = []

    def pick(engine: Engine) -> Engine:
        if request.param == "same engine":
            return engine
        other = make_engine(sqlite_url)
        others.append(other)
        return other

    yield pick
    for other in others:
        other.dispose()


def fresh(sqlite_url: str) -> Engine:
    engine = make_engine(sqlite_url)
    migrate(engine)
    return engine


def test_a_reader_reads_while_a_writer_holds_the_lock(
        sqlite_url: str, writer_engine: Callable[[Engine], Engine]) -> None:
    engine = fresh(sqlite_url)
    try:
        with session_scope(engine) as session:
            session.add(Meta(key="before", value="1"))
        with writer_held(writer_engine(engine)):
            with session_scope(engine, read_only=True) as session:
                keys = session.exec(select(Meta.key)).all()
            with db.reading(engine).connect() as conn:
                count = conn.execute(sa.text("SELECT count(*) FROM meta")).scalar_one()
            # a writer does wait, and times out
            with pytest.raises(OperationalError, match="locked"), \
                    session_scope(engine) as session:
                session.add(Meta(key="second writer", value="1"))
        assert keys == ["before"] and count == 1, "the reader saw its snapshot"
    finally:
        engine.dispose()


def test_a_write_in_a_read_only_transaction_fails_and_the_connection_writes_again(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, connections=1)
    migrate(engine)
    try:
        with pytest.raises(OperationalError, match="readonly"), \
                session_scope(engine, read_only=True) as session:
            session.add(Meta(key="stray", value="write"))
            session.flush()
        for _ in range(2):  # the pooled connection is reused: it must write as before
            with session_scope(engine) as session:
                assert session.connection().exec_driver_sql(
                    "PRAGMA query_only").scalar_one() == 0
                session.merge(Meta(key="after", value="ok"))
        with session_scope(engine, read_only=True) as session:
            assert [m.key for m in session.exec(select(Meta))] == ["after"]
    finally:
        engine.dispose()


def test_incident_list_and_show_read_while_a_writer_holds_the_lock(
        sqlite_url: str, capsys: pytest.CaptureFixture[str], ctx, declare) -> None:  # type: ignore[no-untyped-def]
    # The commands' own code on the test's (migrated) store: `main()` would migrate first,
    # and migrating takes the write lock (engine.store.db.migrate, not a read).
    incident_id = declare()
    other = make_engine(sqlite_url)
    command = SimpleNamespace(obj=ctx)
    try:
        with writer_held(other):
            incident_commands.list_command(command, as_json=True)
            listed = json.loads(capsys.readouterr().out)
            incident_commands.show_command(command, incident_id=incident_id, as_json=True)
            shown = json.loads(capsys.readouterr().out)
    finally:
        other.dispose()
    assert [i["id"] for i in listed["incidents"]] == [incident_id]
    assert shown["incident"]["id"] == incident_id and shown["communities"]


def test_database_files_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: files 0644 unless made otherwise
    try:
        path = tmp_path / "private.db"
        engine = fresh(f"sqlite:///{path}")
        try:
            with session_scope(engine) as session:
                session.add(Meta(key="k", value="v"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(f.exists() for f in files), "WAL mode keeps -wal and -shm open"
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
            assert modes == {f.name: 0o600 for f in files}
        finally:
            engine.dispose()
    finally:
        os.umask(previous)
