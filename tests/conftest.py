"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL) and a fake clock.

A migrated database is a copy of a template migrated once (a SQLite file per test process, a
PostgreSQL template database per set of migrations), not migrated again for every test. The
tests of the migrations themselves downgrade and upgrade, or start from `pg_url`/`sqlite_url`.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The terminal size comes from the test, never from the caller: GNU readline, once imported in
# a process (pdb imports it), exports COLUMNS=80 and LINES=24 to the processes it starts, so a
# pytest-xdist worker begins with them, and Rich fixes the width of engine.output's consoles
# when it is imported. Tests that need a width set COLUMNS themselves.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
# The playbook's compiled-code cache of a test run lives in a folder of its own, not in the
# home folder of whoever runs the suite (the processes the tests start inherit it).
_CACHE = tempfile.mkdtemp(prefix="verbinder-code-cache-")
os.environ.setdefault("VERBINDER_CACHE_DIR", _CACHE)
atexit.register(shutil.rmtree, _CACHE, True)

from engine.clock import FakeClock  # noqa: E402
from engine.store.db import MIGRATIONS, make_engine, migrate  # noqa: E402

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
    """The URL of a fresh SQLite file (not made yet: `sqlite_engine` makes it migrated)."""
    return f"sqlite:///{tmp_path / 'verbinder.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("sqlite-template") / "verbinder.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    with closing(sqlite3.connect(path)) as conn:  # all into the main file, to copy it alone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_engine(sqlite_url: str, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite database of this test alone (a copy of the template)."""
    path = Path(sa.engine.make_url(sqlite_url).database or "")
    copied = not path.exists()
    if copied:
        copy_private(sqlite_template, path)
    engine = make_engine(sqlite_url)
    if not copied:  # the test made the file itself first
        migrate(engine)
    yield engine
    engine.dispose()


def copy_private(source: Path, target: Path) -> None:
    """Copy a file to a new file that only its owner may read (as make_engine makes them)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


# --- PostgreSQL: a database per test, cloned from a migrated template ---------------------------


def migrations_digest(folder: Path = MIGRATIONS) -> str:
    """A hash of the migration files: a new or changed migration names a new template."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".mako"):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _pg_url_of(name: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[Engine | str]:
    """An engine on the server's admin database, or why the server cannot be reached."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=2)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        admin.dispose()
        yield f"PostgreSQL not reachable: {exc}"
        return
    yield admin
    admin.dispose()


def _reachable(admin: Engine | str) -> Engine:
    """The admin engine; fails (under CI) or skips the test when the server is unreachable."""
    if isinstance(admin, str):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {admin}")
        pytest.skip(admin)
    return admin


@pytest.fixture(scope="session")
def pg_template(_pg_admin: Engine | str) -> str:
    """The name of the migrated template database of these migrations (see ensure_template)."""
    return ensure_template(_reachable(_pg_admin), migrations_digest())


def ensure_template(admin: Engine, digest: str) -> str:
    """The name of the migrated template database for a digest of the migrations; made once.

    Several test processes (pytest-xdist workers, other checkouts) may ask at once: one takes
    the digest's advisory lock and builds the template under a name of its own, renaming it
    only when migrated; the others wait for the lock and find it made. A build that a killed
    process left half-way is dropped by the next. Nobody connects to a template (ALLOW_
    CONNECTIONS false), so `CREATE DATABASE ... TEMPLATE` never finds it in use.
    """
    name = f"verbinder_tpl_{digest}"
    key = int(digest[:15], 16)  # 60 bits: a positive bigint
    with admin.connect() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (key,))
        try:
            databases = conn.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"verbinder_tpl%{digest}%",)).scalars().all()
            if name not in databases:
                for leftover in databases:  # only this lock's holder builds for this digest
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)')
                _build_template(conn, name, f"verbinder_tplb_{digest}_{uuid.uuid4().hex[:12]}")
        finally:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
    return name


def _build_template(conn: sa.Connection, name: str, building: str) -> None:
    conn.exec_driver_sql(f'CREATE DATABASE "{building}"')
    try:
        engine = make_engine(_pg_url_of(building))
        try:
            migrate(engine)
        finally:
            engine.dispose()
        conn.exec_driver_sql(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    except BaseException:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        raise
    conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')


@dataclass
class PgDatabase:
    """This test's PostgreSQL database: made empty (`pg_url`) or migrated (`pg_engine`),
    whichever the test asks for first; the other then uses the same one."""

    admin: Engine
    name: str = field(default_factory=lambda: f"verbinder_t_{uuid.uuid4().hex[:12]}")
    made: str | None = None  # "empty" or "migrated"

    @property
    def url(self) -> str:
        """The database's URL."""
        return _pg_url_of(self.name)

    def make(self, template: str | None = None) -> None:
        """Create the database, empty or as a copy of a template, unless it exists."""
        if self.made is not None:
            return
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"{clause}')
        self.made = "migrated" if template else "empty"

    def drop(self) -> None:
        """Drop the database, whoever is still connected."""
        if self.made is not None:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def pg_database(_pg_admin: Engine | str) -> Iterator[PgDatabase]:
    """This test's own PostgreSQL database (not made yet), dropped after the test.

    Fails (not skips) when `CI` is set and the server cannot be reached.
    """
    database = PgDatabase(_reachable(_pg_admin))
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def pg_url(pg_database: PgDatabase) -> str:
    """The URL of this test's PostgreSQL database: empty, unless `pg_engine` came first."""
    pg_database.make()
    return pg_database.url


@pytest.fixture
def pg_engine(pg_database: PgDatabase, pg_template: str) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL database of this test alone (a copy of the template)."""
    if pg_database.made is None:
        pg_database.make(template=pg_template)
    engine = make_engine(pg_database.url)
    if pg_database.made == "empty":  # `pg_url` came first
        migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


from tests.engine_support import ctx, declare, worker  # noqa: E402, F401  (shared fixtures)
