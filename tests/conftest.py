"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL) and a fake clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.store.db import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample" / "voorbeeldstad"
PG_ADMIN_URL = os.environ.get(
    "VERBINDER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _forget_cli_logging() -> Iterator[None]:
    """A command run in-process installs a root log handler; take it away after the test."""
    import logging

    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_verbinder", False):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock standing at 1 March 2026, 09:00 UTC."""
    return FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'verbinder.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated, empty SQLite database of this test alone."""
    engine = make_engine(sqlite_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _pg_admin() -> Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database of this test alone.

    Fails (not skips) when `CI` is set and the server cannot be reached.
    """
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI and not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"verbinder_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL database of this test alone."""
    engine = make_engine(pg_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


from tests.engine_support import ctx, declare, worker  # noqa: E402, F401  (shared fixtures)
