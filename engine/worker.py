"""The worker: it fires due timers, raises silent communities and sends the outbox.

APScheduler only wakes the worker (at start, at the next due time it knows of, and on a short
heartbeat); everything that matters is in the database, so a restart loses nothing. A started
worker fires on the scheduler's thread and sends on a thread of its own; `run_cycle` does both
once, for a command or a test.

A worker is handed what it works with (store, clock, channels, links, fallback, dispatch policy
and the two settings it needs); `engine.wiring.build_worker` builds one from the settings.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from engine.clock import Clock
from engine.escalation.auditor import raise_silent
from engine.escalation.cycle import fire_due, next_due
from engine.links.tokens import Links
from engine.liveness import BEAT_EVERY, Life, alive_on_postgres
from engine.outreach.claims import recover_stale
from engine.outreach.dispatcher import dispatch
from engine.outreach.fallback import FallbackHook
from engine.outreach.policy import DispatchPolicy
from engine.outreach.settle import settle_ambiguous
from engine.store.db import session_scope
from engine.store.models import Message
from notifiers.base import Notifier

log = logging.getLogger(__name__)


def _not_a_skipped_wake(record: logging.LogRecord) -> bool:
    # A wake-up that comes while firing runs is skipped (max_instances=1) and loses nothing:
    # firing plans its next wake-up from the store when it ends.
    return "maximum number of running instances reached" not in str(record.msg)


# The scheduler's own log: warnings only (it narrates every job at INFO), skipped wakes left out.
scheduler_log = logging.getLogger("engine.worker.scheduler")
scheduler_log.setLevel(logging.WARNING)
scheduler_log.addFilter(_not_a_skipped_wake)


@dataclass
class CycleResult:
    """What one cycle did, for logs, tests and benchmarks."""

    fired: int = 0
    cancelled: int = 0
    queued: int = 0
    silent: int = 0
    recovered: int = 0
    digests: int = 0  # peace-time digests queued
    sent: dict[str, int] | None = None


FIRE_BATCH = 100
# The auditor looks for communities quiet for 30 minutes; looking on every wake-up only
# held the store's write lock. A started worker looks once a minute.
AUDIT_EVERY = timedelta(minutes=1)


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, n in more.items():
        total[key] = total.get(key, 0) + n


class Turns:
    """Runs a function in one thread at a time; a call while it runs makes it run once more.

    So a wake-up that arrives mid-run is never lost, and never runs the function twice at once.
    Every call first raises `again`, then tries to take the turn; whoever holds the turn looks
    at `again` after letting the turn go. A call that finds the turn taken has raised `again`
    before the holder let go, so the holder sees it and takes the turn once more (or another
    caller has taken it, and looks after it in turn).
    """

    def __init__(self, name: str, fn: Callable[[], None]) -> None:
        self.name = name
        self.fn = fn
        self.lock = threading.Lock()
        self.again = threading.Event()

    def run(self) -> None:
        """Run now, or make the running call go round once more."""
        self.again.set()
        while self.again.is_set() and self.lock.acquire(blocking=False):
            try:
                while self.again.is_set():
                    self.again.clear()
                    self._call()
            finally:
                self.lock.release()

    def _call(self) -> None:
        try:
            self.fn()
        except Exception:  # the next heartbeat tries again; nothing is lost
            log.exception("%s failed", self.name)

    def wait_idle(self) -> None:
        """Return once no call is running."""
        with self.lock:
            pass


class Worker:
    """Runs cycles against the shared store; several may run next to one PostgreSQL.

    Started, it fires timers on the scheduler's thread and sends on a thread of its own, so
    that a long send never holds back a timer that comes due meanwhile.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        channels: Mapping[str, Notifier],
        links: Links,
        fallback: FallbackHook,
        policy: DispatchPolicy,
        claim_timeout: timedelta,
        heartbeat: timedelta,
        name: str | None = None,
        kind: str = "worker",
        digests: Callable[[datetime, str], int] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.channels = channels
        self.links = links
        self.fallback = fallback
        self.policy = policy
        self.claim_timeout = claim_timeout  # a claim of a silent process is taken back after it
        self.heartbeat = heartbeat  # how often a started worker wakes without a due time
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.kind = kind  # worker | serve when started; a one-off cycle runs as cli
        # Peace time: queue the liaisons' digests that are due (now, worker id) -> how many.
        self.digests = digests
        self._life: Life | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._sender: ThreadPoolExecutor | None = None
        self._send_queued = threading.Event()
        self._plan_lock = threading.Lock()
        self._next_audit: datetime | None = None
        self._firing = Turns("firing", self._fire_and_plan)
        self._sending = Turns("sending", self._send_and_plan)

    @property
    def on_postgres(self) -> bool:
        """True when the store is PostgreSQL (several workers may share it)."""
        return self.engine.dialect.name == "postgresql"

    def hold_life(self, kind: str | None = None) -> bool:
        """Begin this process's life (its lock and heartbeat) unless it holds it already;
        True when it began here."""
        if self._life is not None:
            return False
        life = Life(self.engine, self.clock, self.id, kind or self.kind,
                    beat_every=min(BEAT_EVERY, self.claim_timeout / 4))
        life.begin()
        self._life = life
        return True

    def release_life(self) -> None:
        """End this process's life: no more heartbeats, the lock let go."""
        life, self._life = self._life, None
        if life is not None:
            life.end()

    def is_alive(self, worker_id: str) -> bool:
        """Whether the process that made a claim still lives (its life lock is held)."""
        return worker_id == self.id or alive_on_postgres(self.engine, worker_id)

    def run_cycle(self) -> CycleResult:
        """One whole cycle: recover, fire, raise silent ones, and send everything due.

        For a command or a test; it returns when done. Sending starts on a second thread after
        the first batch of timers fired, as in a started worker.
        """
        sent: dict[str, int] = {}
        # Alive for the whole cycle, from before the first claim until the last send ended:
        # a running worker's recovery would otherwise take back this process's claims.
        began = self.hold_life("cli")
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sending") as sender:
                rounds: list[Future[dict[str, int]]] = []
                result = self._fire_all(after_batch=lambda: rounds.append(
                    sender.submit(self._send)))
                for done in rounds:
                    _add(sent, done.result())
            _add(sent, self._send())  # what fallbacks queued meanwhile
        finally:  # a one-off cycle keeps no sending threads afterwards
            if self._scheduler is None and self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            if began:
                self.release_life()
        result.sent = sent
        return result

    def _fire_all(self, after_batch: Callable[[], None], audit: bool = True) -> CycleResult:
        """Recover stale claims, fire every due timer in batches, raise silent communities."""
        result = CycleResult()
        result.recovered = recover_stale(
            self.engine, now=self.clock.now(), worker=self.id, stale_after=self.claim_timeout,
            alive=self.is_alive if self.on_postgres else None,
        )
        while True:
            with session_scope(self.engine) as session:
                report = fire_due(session, now=self.clock.now(), links=self.links,
                                  worker=self.id, limit=FIRE_BATCH)
            result.fired += report.fired
            result.cancelled += report.cancelled
            result.queued += report.messages
            after_batch()
            if report.fired + report.cancelled < FIRE_BATCH:
                break
        if audit:
            with session_scope(self.engine) as session:
                result.silent = raise_silent(session, now=self.clock.now(), links=self.links,
                                             worker=self.id)
        return result

    def run_digests(self) -> int:
        """Queue the peace-time digests due now (once per period, whoever looks); a started
        worker does it once a minute. A failure is logged and never stops the firing."""
        if self.digests is None:
            return 0
        try:
            return self.digests(self.clock.now(), self.id)
        except Exception:
            log.exception("peace-time digests failed; tried again at the next look")
            return 0

    def _send(self) -> dict[str, int]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.policy.concurrency,
                                            thread_name_prefix="send")
        # Ambiguous sends first (after a restart, those recovery just found): settled ones need
        # no more thought, and one the provider certainly lacks goes out in this round.
        settled = settle_ambiguous(self.engine, clock=self.clock, channels=self.channels,
                                   fallback=self.fallback)
        if settled:
            log.info("ambiguous sends looked up: %s", settled)
        return dispatch(self.engine, worker=self.id, clock=self.clock, channels=self.channels,
                        policy=self.policy, fallback=self.fallback, pool=self._pool)

    def wake(self) -> None:
        """Fire what is due now (or right after the running firing), then plan the next wake-up;
        sending follows on the sending thread."""
        self._firing.run()

    def _fire_and_plan(self) -> None:
        now = self.clock.now()
        audit = self._next_audit is None or now >= self._next_audit
        if audit:
            self._next_audit = now + AUDIT_EVERY
        result = self._fire_all(after_batch=self._kick_sender, audit=audit)
        if audit:  # a started worker only: a command's one-off cycle sends no digests
            result.digests = self.run_digests()
        if result.fired or result.cancelled or result.recovered or result.silent:
            log.info("fired %s, cancelled %s, recovered %s, silent %s", result.fired,
                     result.cancelled, result.recovered, result.silent)
        self._kick_sender()
        self._plan_next()

    def _kick_sender(self) -> None:
        """Have the sending thread send what is due, unless it is about to anyway."""
        sender = self._sender
        if sender is None or self._send_queued.is_set():
            return
        self._send_queued.set()
        try:
            sender.submit(self._sending.run)
        except RuntimeError:  # shut down meanwhile
            self._send_queued.clear()

    def _send_and_plan(self) -> None:
        self._send_queued.clear()  # a kick from now on queues another round
        sent = self._send()
        if sent:
            log.info("sent %s", sent)
        self._plan_next()

    def _plan_next(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        with session_scope(self.engine) as session:
            due = next_due(session)
            soonest = session.exec(select(sa.func.min(Message.next_attempt_at)).where(
                col(Message.state).in_(("pending", "failed_temp")))).one()
        times = [t for t in (due, soonest) if t is not None]
        if not times:
            return
        when = min(times)
        with self._plan_lock:
            if self._scheduler is scheduler:  # not stopped meanwhile
                scheduler.add_job(self.wake, "date", run_date=max(when, datetime.now(UTC)),
                                  id="due", replace_existing=True)

    def start(self) -> BackgroundScheduler:
        """Start waking: once now, at due times, and on the heartbeat."""
        self.hold_life()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sending")
        scheduler = BackgroundScheduler(
            timezone=UTC, logger=scheduler_log,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler = scheduler
        scheduler.add_job(self.wake, "interval", seconds=self.heartbeat.total_seconds(),
                          id="heartbeat")
        scheduler.add_job(self.wake, "date", run_date=datetime.now(UTC), id="start")
        scheduler.start()
        return scheduler

    def stop(self) -> None:
        """Stop waking, let the running firing and sending finish, end this process's life."""
        with self._plan_lock:  # from here on nobody adds a wake-up
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # No job may be due while the scheduler stops: APScheduler's loop, finding one it
            # ran, would fail to remove it from a store that stopping has emptied.
            scheduler.remove_all_jobs()
            # Not shutdown(wait=True): it holds the job store's lock while it waits, and a
            # running firing needs that lock to plan its next wake-up. Wait for it here.
            scheduler.shutdown(wait=False)
            self._firing.wait_idle()
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.shutdown(wait=True)
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.release_life()
