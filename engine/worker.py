"""The worker: one cycle fires due timers, raises silent communities and sends the outbox.

APScheduler only wakes the worker (at start, at the next due time it knows of, and on a short
heartbeat); everything that matters is in the database, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Connection
from sqlmodel import select

from engine.escalation.auditor import raise_silent
from engine.escalation.cycle import fire_due, next_due
from engine.outreach.dispatcher import dispatch, recover_stale
from engine.store.db import session_scope
from engine.store.models import Message
from engine.wiring import AppContext

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    """What one cycle did, for logs, tests and benchmarks."""

    fired: int = 0
    cancelled: int = 0
    queued: int = 0
    silent: int = 0
    recovered: int = 0
    sent: dict[str, int] | None = None


FIRE_BATCH = 100


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, n in more.items():
        total[key] = total.get(key, 0) + n


def lock_key(worker_id: str) -> int:
    """The PostgreSQL advisory lock key that says a worker is alive."""
    return zlib.crc32(worker_id.encode()) | (0x5645 << 32)


class Worker:
    """Runs cycles against the shared store; several may run next to one PostgreSQL."""

    def __init__(self, ctx: AppContext, name: str | None = None) -> None:
        self.ctx = ctx
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._cycle_lock = threading.Lock()
        self._again = threading.Event()
        self._life: Connection | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def on_postgres(self) -> bool:
        """True when the store is PostgreSQL (several workers may share it)."""
        return self.ctx.engine.dialect.name == "postgresql"

    def hold_life_lock(self) -> None:
        """Hold an advisory lock for as long as this worker lives (PostgreSQL)."""
        if self.on_postgres and self._life is None:
            self._life = self.ctx.engine.connect()
            self._life.exec_driver_sql(f"SELECT pg_advisory_lock({lock_key(self.id)})")
            self._life.commit()

    def is_alive(self, worker_id: str) -> bool:
        """Whether the worker that made a claim still lives (its advisory lock is held)."""
        if worker_id == self.id:
            return True
        with self.ctx.engine.connect() as conn:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": lock_key(worker_id)}).scalar()
            if got:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(worker_id)})
            conn.commit()
        return not got

    def run_cycle(self) -> CycleResult:
        """One cycle: recover stale claims, fire due timers, raise silent ones, send."""
        if self._scheduler is not None:
            return self._cycle()
        try:  # a one-off cycle (a command, a test) keeps no sending threads afterwards
            return self._cycle()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def _cycle(self) -> CycleResult:
        ctx = self.ctx
        result = CycleResult()
        result.recovered = recover_stale(
            ctx.engine, now=ctx.clock.now(),
            stale_after=timedelta(seconds=ctx.settings.claim_timeout_seconds),
            alive=self.is_alive if self.on_postgres else None,
        )
        sent: dict[str, int] = {}
        while True:  # fire a batch, send a batch: a big incident does not hold back sending
            with session_scope(ctx.engine) as session:
                report = fire_due(session, now=ctx.clock.now(), links=ctx.links, worker=self.id,
                                  limit=FIRE_BATCH)
            result.fired += report.fired
            result.cancelled += report.cancelled
            result.queued += report.messages
            batch = self._send(max_batches=1)
            _add(sent, batch)
            if report.fired + report.cancelled == 0 and not batch:
                break
        with session_scope(ctx.engine) as session:
            result.silent = raise_silent(session, now=ctx.clock.now(), links=ctx.links,
                                         worker=self.id)
        _add(sent, self._send())
        result.sent = sent
        return result

    def _send(self, max_batches: int | None = None) -> dict[str, int]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.ctx.dispatch_policy.concurrency,
                                            thread_name_prefix="send")
        ctx = self.ctx
        return dispatch(ctx.engine, worker=self.id, clock=ctx.clock, channels=ctx.channels,
                        policy=ctx.dispatch_policy, fallback=ctx.fallback, pool=self._pool,
                        max_batches=max_batches)

    def wake(self) -> None:
        """Run a cycle now, or right after the running one; then plan the next wake-up."""
        if not self._cycle_lock.acquire(blocking=False):
            self._again.set()
            return
        try:
            while True:
                self._again.clear()
                try:
                    result = self.run_cycle()
                    if result.fired or result.recovered or result.sent:
                        log.info("cycle: fired %s, sent %s, recovered %s", result.fired,
                                 result.sent, result.recovered)
                except Exception:  # the next heartbeat tries again; nothing is lost
                    log.exception("cycle failed")
                if not self._again.is_set():
                    break
        finally:
            self._cycle_lock.release()
        self._plan_next()

    def _plan_next(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        with session_scope(self.ctx.engine) as session:
            due = next_due(session)
            soonest = session.exec(select(sa.func.min(Message.next_attempt_at)).where(
                Message.state.in_(("pending", "failed_temp")))).one()
        times = [t for t in (due, soonest) if t is not None]
        if not times:
            return
        when = min(times)
        if self._scheduler is scheduler:  # not stopped meanwhile
            scheduler.add_job(self.wake, "date", run_date=max(when, datetime.now(UTC)),
                              id="due", replace_existing=True)

    def start(self) -> BackgroundScheduler:
        """Start waking: once now, at due times, and on the heartbeat."""
        self.hold_life_lock()
        scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler = scheduler
        scheduler.add_job(self.wake, "interval",
                          seconds=self.ctx.settings.worker_heartbeat_seconds, id="heartbeat")
        scheduler.add_job(self.wake, "date", run_date=datetime.now(UTC), id="start")
        scheduler.start()
        return scheduler

    def stop(self) -> None:
        """Stop waking and let go of the life lock."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # Not shutdown(wait=True): it holds the job store's lock while it waits, and a
            # running cycle needs that lock to plan its next wake-up. Wait for the cycle here.
            scheduler.shutdown(wait=False)
            with self._cycle_lock:
                pass
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._life is not None:
            self._life.close()
            self._life = None
