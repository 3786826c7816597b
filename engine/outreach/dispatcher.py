"""The dispatcher: claim outbox messages, hand each to its channel once, record the outcome.

`sending` is written and committed before the provider is called, so a process that dies while
the provider holds the request leaves the message `sending`; recovery turns that into
`ambiguous` (never resent blindly), while a message still `claimed` was certainly not sent and
goes back to `pending`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, select

from engine.audit.events import record, record_many
from engine.clock import Clock
from engine.store.bulk import any_of, update_rows
from engine.store.db import session_scope
from engine.store.models import Contact, Message, OptOut, WorkerBeat
from engine.store.states import MessageState, check, move, sources
from notifiers.base import Notifier, OutboundMessage, Outcome, SendResult

log = logging.getLogger(__name__)

FallbackHook = Callable[[Session, Message, datetime], None]


@dataclass(frozen=True)
class DispatchPolicy:
    """Retries, throttling and concurrency of the dispatcher."""

    max_attempts: int = 4
    base_delay: timedelta = timedelta(seconds=15)
    max_delay: timedelta = timedelta(minutes=5)
    per_address_interval: timedelta = timedelta(seconds=30)
    concurrency: int = 8
    batch: int = 200
    # How often claims waiting in the send queue are renewed (claimed_at): well within the
    # claim timeout, so that no claim of a living process looks abandoned by its age.
    claim_refresh: timedelta = timedelta(seconds=30)

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        """Backoff after `attempts` tries, never shorter than the provider's Retry-After."""
        backoff = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        return backoff


_TO_SEND = ("id", "address", "channel", "body", "subject", "html", "locale", "incident_id", "step",
            "recipient_kind", "recipient_id", "attempts")


def claim(engine: Engine, *, worker: str, now: datetime, policy: DispatchPolicy) -> list[Any]:
    """Claim due messages (skipping rows other workers hold) and apply per-address throttling;
    the claimed rows, with what sending them needs."""
    table = Message.__table__
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(*(table.c[c] for c in _TO_SEND))
            .where(table.c.state.in_(sources(MessageState.CLAIMED, MessageState.PENDING,
                                             MessageState.FAILED_TEMP)),
                   table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(policy.batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        last = _last_sent(conn, {r.address for r in rows}, now - policy.per_address_interval)
        claimed, later = [], []
        for r in rows:
            previous = last.get(r.address)
            free_at = previous + policy.per_address_interval if previous is not None else now
            if free_at > now:
                later.append({"id": r.id, "next_attempt_at": free_at})
                continue
            last[r.address] = now
            claimed.append(r)
        update_rows(conn, table, [{"id": r.id} for r in claimed],
                    fixed={"state": MessageState.CLAIMED, "claimed_by": worker, "claimed_at": now,
                           "updated_at": now})
        update_rows(conn, table, later)
        return claimed


def _last_sent(conn: Connection, addresses: set[str], since: datetime) -> dict[str, datetime]:
    table = Message.__table__
    stmt = (
        sa.select(table.c.address, sa.func.max(table.c.claimed_at))
        .where(any_of(conn, table.c.address, sorted(addresses)), table.c.claimed_at > since,
               table.c.state.in_((MessageState.CLAIMED, MessageState.SENDING,
                                  MessageState.ACCEPTED, MessageState.DELIVERED)))
        .group_by(table.c.address)
    )
    return {a: t for a, t in conn.execute(stmt).all() if t is not None}


@dataclass
class Handed:
    """One claimed message after its send: what the channel said, and what the event needs."""

    message_id: int
    result: SendResult
    at: datetime
    incident_id: int | None
    channel: str
    step: str
    recipient: str
    attempts: int


def _sending_statement() -> Any:
    """Mark one claimed message `sending` unless its address opted out or its contact
    withdrew consent."""
    table, opt, contact = Message.__table__, OptOut.__table__, Contact.__table__
    opted_out = sa.exists().where(opt.c.address == table.c.address,
                                  opt.c.channel == table.c.channel) | sa.exists().where(
        table.c.recipient_kind == "contact", contact.c.id == table.c.recipient_id,
        contact.c.withdrawn_at.is_not(None))
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("m_id"), table.c.state == MessageState.CLAIMED,
               table.c.claimed_by == sa.bindparam("m_worker"), ~opted_out)
        # claimed_at becomes the time sending began: where a provider would have the message
        .values(state=check(MessageState.CLAIMED, MessageState.SENDING),
                updated_at=sa.bindparam("m_now"), claimed_at=sa.bindparam("m_now"))
    )


_MARK_SENDING = _sending_statement()  # built once: building it cost more than running it


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
    here through the ORM path of `_finish`, with fallbacks, and its outcome returned.
    `connection` gives this thread's held connection, if it may hold one.
    """
    held = connection() if connection else None
    params = {"m_id": row.id, "m_worker": worker, "m_now": clock.now()}
    if not _mark_sending(held if held is not None else engine, params):
        return _refuse_opted_out(engine, row.id, worker, clock.now(), policy, fallback)
    result = _safe_send(channels[row.channel], OutboundMessage(
        channel=row.channel, to=row.address, body=row.body, reference=f"m{row.id}",
        subject=row.subject, html=row.html, locale=row.locale,
    ))
    if result.outcome is Outcome.ACCEPTED:
        return Handed(row.id, result, clock.now(), row.incident_id, row.channel, row.step,
                      f"{row.recipient_kind}:{row.recipient_id}", row.attempts + 1)
    return _finish_ours(engine, row.id, worker, result, clock.now(), policy, fallback)


def _mark_sending(bind: Engine | Connection, params: dict[str, Any]) -> bool:
    """Whether the message was marked `sending` (and committed) by this one statement."""
    if isinstance(bind, Connection):
        if bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # the statement alone: no BEGIN and COMMIT round trips
            return bind.execute(_MARK_SENDING, params).rowcount == 1
        with bind.begin():
            return bind.execute(_MARK_SENDING, params).rowcount == 1
    with bind.begin() as conn:
        return conn.execute(_MARK_SENDING, params).rowcount == 1


def _refuse_opted_out(engine: Engine, message_id: int, worker: str, now: datetime,
                      policy: DispatchPolicy, fallback: FallbackHook) -> Outcome | None:
    """A claimed message that was not marked `sending`: opted out, or no longer ours."""
    with session_scope(engine) as session:
        m = session.exec(select(Message).where(Message.id == message_id).with_for_update()).one()
        if m.state != MessageState.CLAIMED or m.claimed_by != worker:
            return None
        move(m, MessageState.SENDING)
        _finish(session, m, SendResult(Outcome.PERMANENT, detail="opted out"), now, policy,
                fallback)
    return Outcome.PERMANENT


def _finish_ours(engine: Engine, message_id: int, worker: str, result: SendResult,
                 now: datetime, policy: DispatchPolicy, fallback: FallbackHook) -> Outcome | None:
    with session_scope(engine) as session:
        m = session.exec(select(Message).where(Message.id == message_id).with_for_update()).one()
        if m.state != MessageState.SENDING or m.claimed_by != worker:
            # recovered as ambiguous by another worker meanwhile: its record stands
            return None
        _finish(session, m, result, now, policy, fallback)
    return result.outcome


def record_accepted(engine: Engine, worker: str, handed: list[Handed]) -> int:
    """Record accepted sends in one transaction, each with its event; how many were still ours.

    A send whose message was meanwhile recovered as ambiguous by another worker is left as that
    worker recorded it (the provider's status callback settles it by its reference).
    """
    if not handed:
        return 0
    with engine.begin() as conn:
        ours = update_rows(conn, Message.__table__, [{
            "id": h.message_id, "provider_id": h.result.provider_id, "accepted_at": h.at,
            "updated_at": h.at, "attempts": h.attempts, "detail": _detail(h.result),
        } for h in handed], fixed={"state": check(MessageState.SENDING, MessageState.ACCEPTED)},
            only_where={"state": MessageState.SENDING, "claimed_by": worker})
        kept = [h for h in handed if h.message_id in ours]
        record_many(conn, [{
            "at": h.at, "kind": "message.accepted", "incident_id": h.incident_id,
            "community_id": None, "actor": worker,
            "data": {"message": h.message_id, "channel": h.channel, "step": h.step,
                     "recipient": h.recipient, "attempts": h.attempts,
                     "detail": _detail(h.result), "next_attempt_at": None},
        } for h in kept])
    return len(kept)


def _detail(result: SendResult) -> str | None:
    return result.detail[:300] if result.detail else None


def _safe_send(notifier: Notifier, message: OutboundMessage) -> SendResult:
    try:
        return notifier.send(message)
    except Exception as exc:  # a channel bug must not lose the message's state
        log.exception("channel %s raised %s", message.channel, type(exc).__name__)
        return SendResult(Outcome.AMBIGUOUS, detail=f"channel raised {type(exc).__name__}")


def _finish(session: Session, m: Message, result: SendResult, now: datetime,
            policy: DispatchPolicy, fallback: FallbackHook) -> None:
    m.attempts += 1
    m.updated_at = now
    m.detail = _detail(result)
    outcome = result.outcome
    if outcome is Outcome.RETRY and m.attempts >= policy.max_attempts:
        outcome = Outcome.PERMANENT
        m.detail = f"retries exhausted after {m.attempts} attempts; last: {m.detail or ''}"
    if outcome is Outcome.ACCEPTED:
        move(m, MessageState.ACCEPTED)
        m.provider_id, m.accepted_at = result.provider_id, now
    elif outcome is Outcome.RETRY:
        move(m, MessageState.FAILED_TEMP)
        m.next_attempt_at = now + policy.delay(m.attempts, result.retry_after)
    elif outcome is Outcome.PERMANENT:
        move(m, MessageState.FAILED_PERM)
    else:
        move(m, MessageState.AMBIGUOUS)
        mark_ambiguous(m, now)
    record(session, kind=f"message.{m.state}", at=now, incident_id=m.incident_id,
           actor=m.claimed_by or "system", message=m.id, channel=m.channel, step=m.step,
           recipient=f"{m.recipient_kind}:{m.recipient_id}", attempts=m.attempts,
           detail=m.detail, next_attempt_at=m.next_attempt_at.isoformat()
           if m.state == MessageState.FAILED_TEMP and m.next_attempt_at else None)
    if m.state == MessageState.FAILED_PERM:
        fallback(session, m, now)


def recover_stale(engine: Engine, *, now: datetime, worker: str, stale_after: timedelta,
                  alive: Callable[[str], bool] | None = None) -> int:
    """Take back the claims of dead processes: `claimed` to pending, `sending` to ambiguous.

    Never the claims of `worker` (the caller) nor of any living process. With `alive`
    (PostgreSQL: whether a process holds its life lock) liveness alone decides; without it
    (SQLite) a process is dead when its `worker` row was not beaten for `stale_after`, or, when
    it has no row, its claim is older than that.
    """
    with session_scope(engine) as session:
        if alive is not None:
            # Ask about each process once, before locking, so that living processes' rows are
            # never locked here while their senders wait for them.
            dead = _dead_workers(session, worker, alive)
            if not dead:
                return 0
            whose = Message.claimed_by.in_(dead)
        else:
            whose = _silent_claimers(worker, now - stale_after)
        rows = list(session.exec(
            select(Message).where(Message.state.in_((MessageState.CLAIMED,
                                                     MessageState.SENDING)), whose)
            .with_for_update(skip_locked=True)
        ))
        for m in rows:
            before = m.state
            move(m, MessageState.PENDING if before == MessageState.CLAIMED
                 else MessageState.AMBIGUOUS)
            m.updated_at = now
            if before == MessageState.SENDING:
                m.detail = "worker died while the provider held the request"
                mark_ambiguous(m, now)
            record(session, kind=f"message.{m.state}", at=now, incident_id=m.incident_id,
                   actor="recovery", message=m.id, channel=m.channel, step=m.step,
                   recipient=f"{m.recipient_kind}:{m.recipient_id}", recovered_from=before,
                   worker=m.claimed_by)
            if before == MessageState.CLAIMED:
                m.claimed_by = None
        return len(rows)


def mark_ambiguous(m: Message, now: datetime) -> None:
    """Note when a send became ambiguous; the provider is asked about it from now on."""
    m.ambiguous_at = now
    m.next_attempt_at = now


def _dead_workers(session: Session, worker: str, alive: Callable[[str], bool]) -> list[str]:
    workers = session.exec(
        select(Message.claimed_by).distinct()
        .where(Message.state.in_((MessageState.CLAIMED, MessageState.SENDING)),
               Message.claimed_by.is_not(None), Message.claimed_by != worker)
    ).all()
    return [w for w in workers if w is not None and not alive(w)]


def _silent_claimers(worker: str, cutoff: datetime) -> sa.ColumnElement[bool]:
    """Claims of other processes that stopped beating (or, without a row, that are old)."""
    beat = WorkerBeat.__table__
    row = sa.select(beat.c.id).where(beat.c.id == Message.claimed_by)
    return sa.and_(
        Message.claimed_by != worker,
        sa.or_(sa.exists(row.where(beat.c.seen_at <= cutoff)),
               sa.and_(~sa.exists(row), Message.claimed_at <= cutoff)),
    )


def dispatch(
    engine: Engine,
    *,
    worker: str,
    clock: Clock,
    channels: Mapping[str, Notifier],
    policy: DispatchPolicy,
    fallback: FallbackHook,
    pool: ThreadPoolExecutor | None = None,
) -> dict[str, int]:
    """Claim and send until nothing is due; counts per outcome.

    The next batch is claimed while the last sends of the one before are still out, so one
    slow send does not leave the other sending threads idle.
    """
    counts: dict[str, int] = {}
    own_pool = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=policy.concurrency)
    held = HeldConnections(engine)
    send = partial(send_claimed, engine, worker=worker, clock=clock, channels=channels,
                   policy=policy, fallback=fallback, connection=held.get)
    sends = SendQueue(pool, send, policy.concurrency)
    collector = Collector(engine, worker, counts)
    renewed = clock.now()
    nothing_due = False
    try:
        while True:
            if not nothing_due and sends.left <= policy.concurrency:
                rows = claim(engine, worker=worker, now=clock.now(), policy=policy)
                sends.add(rows)
                nothing_due = not rows
            if not sends.left:
                if nothing_due:
                    return counts
                continue
            collector.collect(sends)
            # Sends that ended meanwhile may have queued fallbacks: look once more when all
            # have ended.
            nothing_due = nothing_due and bool(sends.left)
            if clock.now() - renewed >= policy.claim_refresh:
                renewed = clock.now()
                renew_claims(engine, worker, sends.waiting(), renewed)
    finally:
        unsent = sends.stop()
        collector.flush()
        give_back(engine, worker, unsent, clock.now())
        if own_pool:
            pool.shutdown()
        held.close()


def renew_claims(engine: Engine, worker: str, ids: list[int], now: datetime) -> int:
    """Keep the claims of messages waiting in the send queue fresh; how many were renewed."""
    if not ids:
        return 0
    table = Message.__table__
    with engine.begin() as conn:
        return conn.execute(
            sa.update(table).where(any_of(conn, table.c.id, ids),
                                   table.c.state == MessageState.CLAIMED,
                                   table.c.claimed_by == worker).values(claimed_at=now)
        ).rowcount


def give_back(engine: Engine, worker: str, ids: list[int], now: datetime) -> None:
    """Return claimed messages this worker will not send (it stopped early) to the outbox.

    Recovery never takes back a living process's claims, so a process gives back itself what
    it leaves unsent; if even that fails, they wait for its death.
    """
    if not ids:
        return
    table = Message.__table__
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(table).where(
                    any_of(conn, table.c.id, ids),
                    table.c.state.in_(sources(MessageState.PENDING, MessageState.CLAIMED)),
                    table.c.claimed_by == worker)
                .values(state=MessageState.PENDING, claimed_by=None, updated_at=now)
            )
    except Exception:
        log.exception("could not give back %s claimed messages", len(ids))


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
        conn = getattr(self._local, "conn", None)
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
