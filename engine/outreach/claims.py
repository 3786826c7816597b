"""A message's claim, from taking it to what ends it: every state change the dispatcher makes.

`claim` takes due messages (`claimed`), `mark_sending` marks one `sending` before the provider is
called, `record_accepted` / `record_outcome` write what the provider said, `renew_claims` keeps
waiting claims fresh, `give_back` returns what a process will not send, and `recover_stale` takes
back the claims of dead processes (`claimed` to pending, `sending` to ambiguous).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from engine.audit.events import record, record_many
from engine.outreach.fallback import FallbackHook
from engine.outreach.policy import DispatchPolicy
from engine.store.bulk import any_of, update_rows
from engine.store.db import session_scope
from engine.store.models import Contact, Message, OptOut, WorkerBeat, table_of
from engine.store.states import MessageState, check, move, sources
from notifiers.base import Outcome, SendResult

log = logging.getLogger(__name__)


_TO_SEND = ("id", "address", "channel", "body", "subject", "html", "locale", "incident_id", "step",
            "recipient_kind", "recipient_id", "attempts")


def claim(engine: Engine, *, worker: str, now: datetime, policy: DispatchPolicy) -> list[Any]:
    """Claim due messages (skipping rows other workers hold) and apply per-address throttling;
    the claimed rows, with what sending them needs."""
    table = table_of(Message)
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
        claimed: list[Any] = []
        later: list[Mapping[str, Any]] = []
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
    table = table_of(Message)
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
    table, opt, contact = table_of(Message), table_of(OptOut), table_of(Contact)
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


def mark_sending(bind: Engine | Connection, *, message_id: int, worker: str, now: datetime) -> bool:
    """Mark a claimed message `sending` (committed) unless its address opted out or it is no
    longer this worker's; whether it was marked."""
    params = {"m_id": message_id, "m_worker": worker, "m_now": now}
    if isinstance(bind, Connection):
        if bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # the statement alone: no BEGIN and COMMIT round trips
            return bind.execute(_MARK_SENDING, params).rowcount == 1
        with bind.begin():
            return bind.execute(_MARK_SENDING, params).rowcount == 1
    with bind.begin() as conn:
        return conn.execute(_MARK_SENDING, params).rowcount == 1


def refuse_opted_out(engine: Engine, message_id: int, worker: str, now: datetime,
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


def record_outcome(engine: Engine, message_id: int, worker: str, result: SendResult,
                   now: datetime, policy: DispatchPolicy, fallback: FallbackHook) -> Outcome | None:
    """Record a send that was not accepted (retry, failed, ambiguous) with its event and
    fallback; its outcome, or None when the message was no longer ours."""
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
        ours = update_rows(conn, table_of(Message), [{
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
            whose: sa.ColumnElement[bool] = col(Message.claimed_by).in_(dead)
        else:
            whose = _silent_claimers(worker, now - stale_after)
        rows = list(session.exec(
            select(Message).where(col(Message.state).in_((MessageState.CLAIMED,
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
        .where(col(Message.state).in_((MessageState.CLAIMED, MessageState.SENDING)),
               col(Message.claimed_by).is_not(None), col(Message.claimed_by) != worker)
    ).all()
    return [w for w in workers if w is not None and not alive(w)]


def _silent_claimers(worker: str, cutoff: datetime) -> sa.ColumnElement[bool]:
    """Claims of other processes that stopped beating (or, without a row, that are old)."""
    beat = table_of(WorkerBeat)
    row = sa.select(beat.c.id).where(beat.c.id == col(Message.claimed_by))
    return sa.and_(
        col(Message.claimed_by) != worker,
        sa.or_(sa.exists(row.where(beat.c.seen_at <= cutoff)),
               sa.and_(~sa.exists(row), col(Message.claimed_at) <= cutoff)),
    )


def renew_claims(engine: Engine, worker: str, ids: list[int], now: datetime) -> int:
    """Keep the claims of messages waiting in the send queue fresh; how many were renewed."""
    if not ids:
        return 0
    table = table_of(Message)
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
    table = table_of(Message)
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
