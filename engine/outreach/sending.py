"""The send machinery: claimed messages handed to their channels by a few threads at once.

`send_claimed` sends one message (mark `sending`, call the channel); `SendQueue` feeds claimed
messages to up to `concurrency` sending threads; `HeldConnections` keeps one connection per
sending thread for the one-statement mark; `Collector` records accepted sends in small groups.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from engine.clock import Clock
from engine.outreach.claims import (
    Handed,
    mark_sending,
    record_accepted,
    record_outcome,
    refuse_opted_out,
)
from engine.outreach.fallback import FallbackHook
from engine.outreach.policy import DispatchPolicy
from notifiers.base import Notifier, OutboundMessage, Outcome, SendResult

log = logging.getLogger(__name__)


def send_claimed(
    engine: Engine,
    row: Any,
    *,
    worker: str,
    clock: Clock,
    channels: Mapping[str, Notifier],
    policy: DispatchPolicy,
    fallback: FallbackHook,
    connection: Callable[[], Connection | None] | None = None,
) -> Handed | Outcome | None:
    """Send one message this worker claimed (`row` as `claim` gave it); None when it was no
    longer ours to send.

    The common path (one statement marks it `sending`, then the send) returns a `Handed` whose
    acceptance the caller records with others in one transaction; anything else is recorded
    here (`record_outcome`, with fallbacks), and its outcome returned.
    `connection` gives this thread's held connection, if it may hold one.
    """
    held = connection() if connection else None
    if not mark_sending(held if held is not None else engine, message_id=row.id, worker=worker,
                        now=clock.now()):
        return refuse_opted_out(engine, row.id, worker, clock.now(), policy, fallback)
    result = _safe_send(channels[row.channel], OutboundMessage(
        channel=row.channel, to=row.address, body=row.body, reference=f"m{row.id}",
        subject=row.subject, html=row.html, locale=row.locale,
    ))
    if result.outcome is Outcome.ACCEPTED:
        return Handed(row.id, result, clock.now(), row.incident_id, row.channel, row.step,
                      f"{row.recipient_kind}:{row.recipient_id}", row.attempts + 1)
    return record_outcome(engine, row.id, worker, result, clock.now(), policy, fallback)


def _safe_send(notifier: Notifier, message: OutboundMessage) -> SendResult:
    try:
        return notifier.send(message)
    except Exception as exc:  # a channel bug must not lose the message's state
        log.exception("channel %s raised %s", message.channel, type(exc).__name__)
        return SendResult(Outcome.AMBIGUOUS, detail=f"channel raised {type(exc).__name__}")


Sent = Handed | Outcome | None


class SendQueue:
    """Claimed messages, sent by up to `concurrency` threads of the pool that each take the next
    message when done with one; what each send gave comes back through a queue.

    A future per message made collecting cost more the more messages were in flight.
    """

    def __init__(self, pool: ThreadPoolExecutor, send: Callable[[Any], Sent],
                 concurrency: int) -> None:
        self.pool, self.send, self.concurrency = pool, send, concurrency
        self.todo: deque[Any] = deque()
        self.left = 0  # added and not yet taken back
        self.results: queue.SimpleQueue[tuple[Sent, BaseException | None]] = queue.SimpleQueue()
        self.stopped = False
        self._lock = threading.Lock()
        self._draining = 0

    def add(self, rows: list[Any]) -> None:
        """Queue claimed rows and have enough threads take from the queue."""
        with self._lock:
            self.todo.extend(rows)
            self.left += len(rows)
            more = min(self.concurrency - self._draining, len(self.todo))
            self._draining += max(0, more)
        for _ in range(more):
            self.pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self.stopped or not self.todo:
                    self._draining -= 1
                    return
                row = self.todo.popleft()
            try:
                self.results.put((self.send(row), None))
            except BaseException as exc:  # handed to the collecting thread, which raises it
                self.results.put((None, exc))

    def take(self, timeout: float) -> list[Sent]:
        """What the sends gave since the last call, waiting up to `timeout` for the first."""
        try:
            got = [self.results.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self.results.get_nowait())
            except queue.Empty:
                break
        self.left -= len(got)
        for _, error in got:
            if error is not None:
                raise error
        return [sent for sent, _ in got]

    def waiting(self) -> list[int]:
        """The ids of the messages that wait for a sending thread."""
        with self._lock:
            return [row.id for row in self.todo]

    def stop(self) -> list[int]:
        """Take no more messages; the ids of those not started (still `claimed`)."""
        with self._lock:
            self.stopped = True
            unsent, self.todo = [row.id for row in self.todo], deque()
            return unsent


class HeldConnections:
    """One connection per sending thread for one `dispatch`: marking a message `sending` is
    then one statement, not a pool check-out with its liveness ping around a statement.

    Only the pool's standing connections are held, never its overflow: were every connection
    held, the thread recording acceptances (or a refusal) would wait for one forever.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    def get(self) -> Connection | None:
        """This thread's connection, opened on first use (or again after it broke); None when
        the pool has no standing connection to spare (check one out per use then)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not conn.invalidated:
            return conn
        pool = self.engine.pool
        with self._lock:
            if isinstance(pool, QueuePool) and pool.checkedout() >= pool.size():
                return None
            conn = self.engine.connect()
            self._all.append(conn)
        if self.engine.dialect.name == "postgresql":
            # It only ever runs the one-statement mark: no BEGIN and COMMIT round trips.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Give every connection back to the pool (the sends that used them are done)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


RECORD_EVERY = 0.02  # seconds an accepted send may wait to be recorded with others
RECORD_AT_MOST = 64


class Collector:
    """Takes what the sends gave, recording accepted ones in small groups as they come in."""

    def __init__(self, engine: Engine, worker: str, counts: dict[str, int]) -> None:
        self.engine, self.worker, self.counts = engine, worker, counts
        self.handed: list[Handed] = []
        self.oldest = 0.0

    def collect(self, sends: SendQueue) -> None:
        """Take what came in within RECORD_EVERY; record a group when it is due."""
        now = time.monotonic()
        wait = max(0.0, self.oldest + RECORD_EVERY - now) if self.handed else RECORD_EVERY
        for outcome in sends.take(wait):
            if isinstance(outcome, Handed):
                if not self.handed:
                    self.oldest = time.monotonic()
                self.handed.append(outcome)
                continue
            key = outcome.value if outcome else "skipped"
            self.counts[key] = self.counts.get(key, 0) + 1
        if self.handed and (not sends.left or len(self.handed) >= RECORD_AT_MOST
                            or time.monotonic() - self.oldest >= RECORD_EVERY):
            self.flush()

    def flush(self) -> None:
        """Record the accepted sends taken so far (also when interrupted: a send that was
        accepted is recorded if it can be at all)."""
        if self.handed:
            handed, self.handed = self.handed, []
            _count_recorded(self.engine, self.worker, handed, self.counts)


def _count_recorded(engine: Engine, worker: str, handed: list[Handed],
                    counts: dict[str, int]) -> None:
    recorded = record_accepted(engine, worker, handed)
    counts["accepted"] = counts.get("accepted", 0) + recorded
    if recorded < len(handed):
        counts["skipped"] = counts.get("skipped", 0) + len(handed) - recorded
