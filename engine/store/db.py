"""Engines, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import ast
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# Alembic and the ORM session are imported where they are used: a command that only reads
# through the driver (`incident preview`) starts without them.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_SECONDS = 30.0
# The execution option that marks a connection's transactions as reading only (see `reading`).
READ_ONLY = "verbinder_read_only"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class _WriterLock:
    """One process's turn at SQLite's single write lock, handed over without busy-waiting.

    Every writing transaction here starts with BEGIN IMMEDIATE, so they all queue for SQLite's
    write lock anyway; SQLite's busy handler waits for it by sleeping in growing steps (up to
    100 ms), which let threads of one process idle while the lock was free. Queueing on a
    Python lock first hands the turn over at once. Other processes still meet SQLite's busy
    timeout. Read-only transactions (`reading`) take no turn.
    """

    def __init__(self, timeout: float) -> None:
        self.lock = threading.Lock()
        self.timeout = timeout

    def connection_class(self) -> type[sqlite3.Connection]:
        """A sqlite3 connection class that gives the turn back when its transaction ends."""
        writer = self

        class TurnConnection(sqlite3.Connection):
            holds_turn = False
            reading = False

            def take_turn(self) -> None:
                # A thread that already holds a turn on another connection would wait for
                # itself: after the timeout it goes on, and SQLite's busy timeout decides.
                self.holds_turn = writer.lock.acquire(timeout=writer.timeout)

            def give_turn(self) -> None:
                if self.reading:
                    # the connection goes back to the pool able to write again
                    self.reading = False
                    self.execute("PRAGMA query_only = OFF")
                if self.holds_turn:
                    self.holds_turn = False
                    writer.lock.release()

            def commit(self) -> None:
                try:
                    super().commit()
                finally:
                    self.give_turn()

            def rollback(self) -> None:
                try:
                    super().rollback()
                finally:
                    self.give_turn()

            def close(self) -> None:
                self.reading = False
                try:
                    super().close()
                finally:
                    self.give_turn()

        return TurnConnection


def make_engine(url: str, *, connections: int = 10) -> Engine:
    """An engine for the URL keeping `connections` open (and up to 20 more at a peak); SQLite
    gets WAL, foreign keys and a busy timeout."""
    url = normalise_url(url)
    pool = {"pool_size": connections, "max_overflow": 20}
    if url.startswith("sqlite"):
        create_private_file(sa.engine.make_url(url).database)
        writer = _WriterLock(timeout=SQLITE_BUSY_SECONDS)
        engine = sa.create_engine(url, **pool, connect_args={
            "timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False,
            "factory": writer.connection_class()})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Own transaction control so that BEGIN IMMEDIATE can take the write lock early.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            dbapi_conn = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READ_ONLY):
                # A reader needs no turn: in WAL mode it reads its snapshot while a writer
                # holds the lock. query_only makes a stray write fail instead of waiting.
                dbapi_conn.reading = True
                conn.exec_driver_sql("BEGIN")
                conn.exec_driver_sql("PRAGMA query_only = ON")
                return
            dbapi_conn.take_turn()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                dbapi_conn.give_turn()
                raise

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **pool)


def create_private_file(path: str | None) -> None:
    """Create a SQLite database file readable by its owner only (0600) unless it exists.

    SQLite gives its -wal and -shm files the permissions of the database file, so they are
    private too. Memory databases and URI file names are left to SQLite.
    """
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # it exists, or SQLite will say why it cannot open it
        return
    os.close(fd)


def reading(engine: Engine) -> Engine:
    """The engine for transactions that only read: on SQLite they take no writer's turn and no
    write lock (BEGIN, not BEGIN IMMEDIATE), and a write in them fails at once."""
    return engine.execution_options(**{READ_ONLY: True})


def alembic_config(engine: Engine | None) -> Config:
    """An Alembic configuration aimed at this engine."""
    from alembic.config import Config

    # Alembic's default stream is the sys.stdout of when alembic.config was first imported;
    # imported on first use now, that may be a stream long closed (a test's capture).
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# The PostgreSQL advisory lock that one migrating process holds. Workers' life locks carry
# 0x5645 in their upper half (engine.worker.lock_key); this one can never be one of them.
MIGRATION_LOCK = 0x564D_0000_0001


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration, one process at a time.

    Every process migrates on first use, so several started together would otherwise create
    the same tables at once. The whole upgrade is one transaction that first takes the
    migration lock (PostgreSQL: a transaction advisory lock; SQLite: the write lock, by BEGIN
    IMMEDIATE); a process that waited finds the schema at head and does nothing.
    """
    if at_head(engine):
        return
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            _migrate_sqlite(conn)
            return
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            _upgrade(conn)


@cache
def head_revision() -> str:
    """The newest migration of this code: the revision no other one names as its
    `down_revision`, read from the migration files' text (Alembic's own answer, which imports
    every migration, is asked only when that is not one revision)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = _assigned(path, ("revision", "down_revision"))
        if isinstance(names.get("revision"), str):
            revisions.add(names["revision"])
        down = names.get("down_revision")
        parents.update(down if isinstance(down, tuple) else (down,) if down else ())
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    return _alembic_head()


def _assigned(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The literal values a module assigns to these top-level names."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                try:
                    found[target.id] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                except ValueError:
                    found[target.id] = None
    return found


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    assert head is not None
    return head


def at_head(engine: Engine) -> bool:
    """Whether the schema is at the newest migration, asked in a read-only transaction, so that
    a process starting while another writes (a long declaration) does not wait for the lock."""
    with reading(engine).connect() as conn, conn.begin():
        if not sa.inspect(conn).has_table("alembic_version"):
            return False
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return list(versions) == [head_revision()]


def _upgrade(conn: Connection) -> None:
    from alembic import command

    cfg = alembic_config(conn.engine)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _migrate_sqlite(conn: Connection) -> None:
    # A batch migration rebuilds a table by copy, drop and rename, which foreign key
    # enforcement would refuse for a parent table; SQLite only lets it be switched off outside
    # a transaction. The keys are checked before the upgrade commits instead.
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            _upgrade(conn)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error;
    `read_only` for one that only reads (see `reading`)."""
    from sqlmodel import Session

    with Session(reading(engine) if read_only else engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
