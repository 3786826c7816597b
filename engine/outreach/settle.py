"""Settling ambiguous sends by asking the provider what it holds.

A send is ambiguous when its process died while the provider had the request, or the channel
got no answer. A channel that can look up its provider's messages (notifiers.base.MessageLookup:
SMS through Twilio; SMTP cannot, so email stays ambiguous) is asked about each such message,
from the moment it became ambiguous (at restart, that is recovery):

- the provider holds a message from us to that address, created between our claim and the
  ambiguity (give or take SKEW), whose provider id no other message of ours has: the message
  is settled with it (accepted, or as far as the provider's status says), with an event;
- the provider certainly holds none (its answer covered the whole window, and NONE_AFTER has
  passed so that a list that lags has caught up): the message goes back to pending, with an
  event, to be sent once more; at most once: if that send ends ambiguous too and the provider
  again holds none, it failed (and falls back, as any failed message);
- the provider's answer is not complete (an error, a list cut off) or may belong to a send of
  another of our messages to that address that is under way: asked again later, for LOOK_FOR.
  A pass stops at the first unanswered question, so a provider that hangs holds up a send
  round by one question at most.

Bodies are never compared: stored bodies are not what was sent (link tokens are masked).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.audit.events import record
from engine.clock import Clock
from engine.outreach.fallback import FallbackHook
from engine.store.db import session_scope
from engine.store.models import Message
from engine.store.states import MessageState, move
from notifiers.base import (
    DeliveryState,
    LookupQuery,
    LookupResult,
    MessageLookup,
    Notifier,
    ProviderMessage,
)

log = logging.getLogger(__name__)

SKEW = timedelta(minutes=2)  # how far our clock and the provider's may differ
NONE_AFTER = timedelta(minutes=5)  # a provider's list may show a new message this late
LOOK_FOR = timedelta(days=2)  # then an unanswerable question is left unknown
LEASE = timedelta(minutes=1)  # how long a looker holds the messages it asks about
BATCH = 20  # messages asked about per pass


def settle_ambiguous(engine: Engine, *, clock: Clock, channels: Mapping[str, Notifier],
                     fallback: FallbackHook, limit: int = BATCH) -> dict[str, int]:
    """Ask the providers about ambiguous messages that are due; counts per outcome."""
    lookers = {name: ch for name, ch in channels.items() if isinstance(ch, MessageLookup)}
    if not lookers:
        return {}
    now = clock.now()
    counts: dict[str, int] = {}
    due = _take_due(engine, now, sorted(lookers), limit)
    for n, row in enumerate(due):
        query = LookupQuery(to=row.address, reference=f"m{row.id}", after=row.claimed_at - SKEW,
                            before=row.ambiguous_at + SKEW, asked_at=now)
        result = _safe_lookup(lookers[row.channel], query)
        with session_scope(engine) as session:
            outcome = _settle(session, row.id, result, now, fallback)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "unknown":
            # The provider did not answer (or cut its list off): the rest wait for the next
            # pass, first in line, rather than hold up this send round with more questions it
            # may not answer.
            _put_back(engine, due[n + 1:])
            break
    return counts


def _take_due(engine: Engine, now: datetime, channels: list[str], limit: int) -> list[Any]:
    """Ambiguous messages due to be asked about, held for LEASE so that others skip them."""
    table = Message.__table__
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(table.c.id, table.c.channel, table.c.address, table.c.claimed_at,
                      table.c.ambiguous_at, table.c.next_attempt_at)
            .where(table.c.state == MessageState.AMBIGUOUS, table.c.next_attempt_at <= now,
                   table.c.channel.in_(channels), table.c.claimed_at.is_not(None),
                   table.c.ambiguous_at.is_not(None))
            .order_by(table.c.next_attempt_at, table.c.id).limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            conn.execute(sa.update(table).where(table.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=now + LEASE))
    return rows


def _put_back(engine: Engine, rows: list[Any]) -> None:
    """Give up the hold on messages not asked about: due again as they were."""
    if not rows:
        return
    table = Message.__table__
    with engine.begin() as conn:
        for row in rows:
            conn.execute(sa.update(table).where(table.c.id == row.id,
                                                table.c.state == MessageState.AMBIGUOUS)
                         .values(next_attempt_at=row.next_attempt_at))


def _safe_lookup(channel: MessageLookup, query: LookupQuery) -> LookupResult:
    try:
        return channel.lookup(query)
    except Exception as exc:  # a channel bug leaves the question open
        log.exception("lookup on %s raised %s", type(channel).__name__, type(exc).__name__)
        return LookupResult(detail=f"lookup raised {type(exc).__name__}")


def _settle(session: Session, message_id: int, result: LookupResult, now: datetime,
            fallback: FallbackHook) -> str:
    m = session.exec(select(Message).where(Message.id == message_id).with_for_update()).one()
    if m.state != MessageState.AMBIGUOUS:
        return "settled_meanwhile"  # a status callback matched it by its reference
    known = _known_provider_ids(session, [p.provider_id for p in result.found])
    candidates = [p for p in result.found if p.provider_id not in known]
    if candidates:
        if _another_under_way(session, m):
            m.next_attempt_at = now + LEASE  # the one found may be that one's
            return "under_way"
        _settle_found(session, m, candidates[0], now, fallback)
        return "found"
    if not result.complete:
        return _ask_again(m, now)
    assert m.ambiguous_at is not None
    if now < m.ambiguous_at + NONE_AFTER:
        m.next_attempt_at = m.ambiguous_at + NONE_AFTER
        return "waiting"
    _settle_none(session, m, now, fallback)
    return "resent" if m.state == MessageState.PENDING else "unsent"


def _known_provider_ids(session: Session, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set(session.exec(select(Message.provider_id).where(Message.provider_id.in_(ids))))


def _another_under_way(session: Session, m: Message) -> bool:
    return session.exec(select(Message.id).where(
        Message.address == m.address, Message.channel == m.channel, Message.id != m.id,
        Message.state.in_((MessageState.CLAIMED, MessageState.SENDING)))).first() is not None


def _ask_again(m: Message, now: datetime) -> str:
    assert m.ambiguous_at is not None
    if now - m.ambiguous_at >= LOOK_FOR:
        m.next_attempt_at = None
        return "given_up"
    # ever further apart: as long again as it has been ambiguous, from a minute to an hour
    m.next_attempt_at = now + min(max(now - m.ambiguous_at, LEASE), timedelta(hours=1))
    return "unknown"


def _settle_found(session: Session, m: Message, found: ProviderMessage, now: datetime,
                  fallback: FallbackHook) -> None:
    m.provider_id, m.provider_status = found.provider_id, found.status
    m.accepted_at, m.updated_at, m.next_attempt_at = now, now, None
    move(m, MessageState.ACCEPTED)
    record(session, kind="message.reconciled", at=now, incident_id=m.incident_id,
           actor="lookup", message=m.id, channel=m.channel, source="provider_list",
           provider_status=found.status)
    if found.state is DeliveryState.DELIVERED:
        move(m, MessageState.DELIVERED)
        m.delivered_at = now
    elif found.state is DeliveryState.FAILED:
        move(m, MessageState.FAILED_PERM)
        m.detail = f"provider status {found.status}"[:300]
        record(session, kind="message.failed_perm", at=now, incident_id=m.incident_id,
               actor="lookup", message=m.id, channel=m.channel, status=found.status,
               recipient=f"{m.recipient_kind}:{m.recipient_id}")
        fallback(session, m, now)


def _settle_none(session: Session, m: Message, now: datetime, fallback: FallbackHook) -> None:
    m.updated_at = now
    recipient = f"{m.recipient_kind}:{m.recipient_id}"
    if m.resends < 1:
        move(m, MessageState.PENDING)
        m.claimed_by, m.next_attempt_at = None, now
        m.resends += 1
        m.detail = "the provider holds none: sent once more"
        record(session, kind="message.pending", at=now, incident_id=m.incident_id,
               actor="lookup", message=m.id, channel=m.channel, step=m.step,
               recipient=recipient, recovered_from="ambiguous", reason="provider_holds_none")
        return
    move(m, MessageState.FAILED_PERM)
    m.next_attempt_at = None
    m.detail = "the provider holds none, also after it was sent once more"
    record(session, kind="message.failed_perm", at=now, incident_id=m.incident_id,
           actor="lookup", message=m.id, channel=m.channel, step=m.step, recipient=recipient,
           detail=m.detail)
    fallback(session, m, now)
