"""Which processes that claim work are alive.

A process that fires or sends (`verbinder worker`, `serve`, or a command's one-off cycle such as
`incident declare`) holds a life from before its first claim until after its last send:

- on PostgreSQL an advisory lock, held on a connection of its own. The server frees it the
  moment the process or that connection dies, so a claim whose process's lock is free belongs to
  a dead process; that alone decides.
- a row in `worker` (id, kind, started_at, seen_at) that a thread of its own beats. On SQLite,
  where no process can test another's locks, a process whose row was not beaten for the claim
  timeout is dead. On PostgreSQL the row only says which workers were seen lately, so a one-off
  cycle (kind `cli`) writes none there: two commits would only delay its first send.
"""

from __future__ import annotations

import logging
import threading
import zlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.clock import Clock
from engine.store.models import WorkerBeat

log = logging.getLogger(__name__)

RUNNING_KINDS = ("worker", "serve")  # processes that fire timers for as long as they run
BEAT_EVERY = timedelta(seconds=5)  # at most; a short claim timeout makes it shorter
FORGET_AFTER = timedelta(days=1)  # rows of processes that died without taking them away


def lock_key(worker_id: str) -> int:
    """The PostgreSQL advisory lock key that says a process is alive."""
    return zlib.crc32(worker_id.encode()) | (0x5645 << 32)


def alive_on_postgres(engine: Engine, worker_id: str) -> bool:
    """Whether the process that made a claim holds its life lock (PostgreSQL)."""
    key = {"k": lock_key(worker_id)}
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), key).scalar()
        if got:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), key)
        conn.commit()
    return not got


def workers_seen(engine: Engine, *, since: datetime) -> list[str]:
    """Ids of the running workers (`worker`, `serve`) whose heartbeat was seen since then."""
    table = WorkerBeat.__table__
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table.c.id).where(
            table.c.kind.in_(RUNNING_KINDS), table.c.seen_at >= since)
            .order_by(table.c.id)).scalars())


class Life:
    """One process's life: its advisory lock (PostgreSQL) and its beaten `worker` row."""

    def __init__(self, engine: Engine, clock: Clock, worker_id: str, kind: str,
                 beat_every: timedelta = BEAT_EVERY) -> None:
        self.engine, self.clock, self.id, self.kind = engine, clock, worker_id, kind
        self.beat_every = beat_every
        self._lock_conn: Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def on_postgres(self) -> bool:
        """True when the store is PostgreSQL."""
        return self.engine.dialect.name == "postgresql"

    @property
    def keeps_row(self) -> bool:
        """Whether this life is kept in `worker` (always on SQLite, where it is the liveness)."""
        return not (self.on_postgres and self.kind == "cli")

    def begin(self) -> None:
        """Take the life lock, write this process's row, and start beating."""
        if self.on_postgres:
            self._lock_conn = self._take_lock(wait=True)
        if self.keeps_row:
            self._write_row()
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat_until_stopped, daemon=True,
                                        name=f"life-{self.id}")
        self._thread.start()

    def end(self) -> None:
        """Stop beating, take the row away and let go of the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.keeps_row:
            self._remove_row()
        if self._lock_conn is not None:
            _let_go(self._lock_conn, self.id)
            self._lock_conn = None

    def _write_row(self) -> None:
        now = self.clock.now()
        table = WorkerBeat.__table__
        with self.engine.begin() as conn:
            conn.execute(sa.delete(table).where(sa.or_(
                table.c.id == self.id, table.c.seen_at < now - FORGET_AFTER)))
            conn.execute(sa.insert(table).values(id=self.id, kind=self.kind, started_at=now,
                                                 seen_at=now))

    def _remove_row(self) -> None:
        try:
            with self.engine.begin() as conn:
                table = WorkerBeat.__table__
                conn.execute(sa.delete(table).where(table.c.id == self.id))
        except Exception:  # the row ages out; the lock goes with the connection below
            log.warning("could not remove the worker row of %s", self.id, exc_info=True)

    def beat(self) -> None:
        """Say this process is alive now (and take the lock again if its connection broke)."""
        if self.on_postgres:
            self._keep_lock()
        if not self.keeps_row:
            return
        table = WorkerBeat.__table__
        now = self.clock.now()
        with self.engine.begin() as conn:
            updated = conn.execute(sa.update(table).where(table.c.id == self.id)
                                   .values(seen_at=now)).rowcount
            if not updated:
                conn.execute(sa.insert(table).values(id=self.id, kind=self.kind,
                                                     started_at=now, seen_at=now))

    def _beat_until_stopped(self) -> None:
        while not self._stop.wait(self.beat_every.total_seconds()):
            try:
                self.beat()
            except Exception:  # the next beat tries again
                log.warning("heartbeat of %s failed", self.id, exc_info=True)

    def _take_lock(self, wait: bool) -> Connection | None:
        conn = self.engine.connect()
        try:
            verb = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            got = conn.exec_driver_sql(f"SELECT {verb}({lock_key(self.id)})").scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if wait or got:
            return conn
        conn.close()
        return None

    def _keep_lock(self) -> None:
        conn = self._lock_conn
        if conn is not None:
            try:
                conn.exec_driver_sql("SELECT 1").scalar()
                conn.commit()
                return
            except Exception:
                conn.invalidate()
                conn.close()
                self._lock_conn = None
        # The lock went with its connection: others may have taken back our claims (each of our
        # writes checks that the claim is still ours). Take it again, without waiting for the
        # server to notice the old connection is gone.
        log.warning("life lock of %s was lost with its connection; taking it again", self.id)
        self._lock_conn = self._take_lock(wait=False)



def _let_go(conn: Connection, worker_id: str) -> None:
    """Unlock and close: closing alone hands the connection, lock and all, back to the pool."""
    try:
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock_key(worker_id)})")
        conn.commit()
    except Exception:
        conn.invalidate()  # closes the server session, and the lock with it
    finally:
        conn.close()
