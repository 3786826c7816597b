"""Migrations: written in plain SQLAlchemy, serialised between processes, and what the
models say."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.store.db import MIGRATIONS, SQLITE_BUSY_SECONDS, make_engine, migrate
from engine.wiring import stored_secret

VERSIONS = sorted((MIGRATIONS / "versions").glob("*.py"))
# A migration must run the same in a year: only Alembic and SQLAlchemy, never the live models
# (a later change to a model would change what an old migration creates).
ALLOWED_IMPORTS = ("alembic", "sqlalchemy")


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_a_migration_imports_only_alembic_and_sqlalchemy(path: Path) -> None:
    foreign = [n for n in imports_of(path) if n.split(".")[0] not in ALLOWED_IMPORTS]
    assert foreign == [], f"{path.name} imports {foreign}"


def test_migrating_again_changes_nothing(any_engine: Engine) -> None:
    migrate(any_engine)
    with any_engine.connect() as conn:
        assert len(conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()) == 1


def test_a_process_at_head_does_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    """A command started while a declaration holds SQLite's write lock finds the schema at
    head without taking the lock (before, every start took the write lock to migrate)."""
    other = make_engine(str(sqlite_engine.url))
    try:
        with sqlite_engine.connect() as holder, holder.begin():
            holder.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('held', 'x')")
            started = time.monotonic()
            migrate(other)
            assert time.monotonic() - started < SQLITE_BUSY_SECONDS / 2
    finally:
        other.dispose()


def _waiting_on_a_lock(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").scalar_one()


def _wait_for(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.postgres
def test_a_migrating_process_waits_for_the_one_that_holds_the_lock(pg_engine: Engine) -> None:
    from alembic import command

    from engine.store.db import MIGRATION_LOCK, alembic_config

    command.downgrade(alembic_config(pg_engine), "0002")  # something left to migrate
    done = threading.Event()
    with pg_engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        thread = threading.Thread(target=lambda: (migrate(pg_engine), done.set()))
        thread.start()
        _wait_for(lambda: _waiting_on_a_lock(pg_engine) == 1, "the migration to wait")
        assert not done.is_set()
        holder.commit()
    thread.join(timeout=20)
    assert done.is_set()


@pytest.mark.postgres
def test_processes_making_the_secret_key_at_once_all_use_the_first(pg_engine: Engine) -> None:
    """The second to store a secret key waits for the first and then uses its key; before, it
    failed on the primary key (a process started next to another died at its first wake)."""
    got: list[str] = []
    with pg_engine.connect() as first:
        first.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('secret_key', 'first')")
        thread = threading.Thread(target=lambda: got.append(stored_secret(pg_engine)))
        thread.start()
        _wait_for(lambda: _waiting_on_a_lock(pg_engine) == 1, "the second insert to wait")
        first.commit()
    thread.join(timeout=20)
    assert got == ["first"]
    assert stored_secret(pg_engine) == "first"


def test_the_secret_key_is_made_once(any_engine: Engine) -> None:
    key = stored_secret(any_engine)
    assert len(key) >= 40 and stored_secret(any_engine) == key
    with any_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM meta")).scalar_one() == 1
