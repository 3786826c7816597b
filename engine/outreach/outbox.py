"""The outbox: deciding to send and recording the message are one transaction.

A message moves pending -> claimed -> sending -> accepted -> delivered, or to failed_temp
(retried with backoff, honouring Retry-After), failed_perm (fallback), ambiguous (the process
died while the provider held the request: never resent blindly) or cancelled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.store.bulk import insert_rows
from engine.store.models import IntakeToken, Message
from engine.store.states import MessageState, sources


@dataclass(frozen=True)
class Draft:
    """A message the engine decided to send, before it is in the outbox."""

    dedupe_key: str
    incident_id: int | None
    community_ids: list[str]
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    locale: str
    body: str
    step: str
    subject: str | None = None
    html: str | None = None
    template: str | None = None
    not_before: datetime | None = None
    tokens: tuple[dict[str, Any], ...] = ()  # rows of the link tokens the body carries


def dedupe_key(incident_id: int | None, recipient: str, step: str, channel: str) -> str:
    """The key that makes one (incident, recipient, step, channel) one message."""
    return f"{incident_id or 0}|{recipient}|{step}|{channel}"


def _values(draft: Draft, now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": draft.dedupe_key, "incident_id": draft.incident_id,
        "community_ids": list(draft.community_ids), "recipient_kind": draft.recipient_kind,
        "recipient_id": draft.recipient_id, "channel": draft.channel, "address": draft.address,
        "locale": draft.locale, "subject": draft.subject, "body": draft.body, "html": draft.html,
        "step": draft.step, "template": draft.template, "state": MessageState.PENDING,
        "attempts": 0, "next_attempt_at": draft.not_before or now, "created_at": now,
        "updated_at": now,
    }


def enqueue(session: Session, draft: Draft, now: datetime) -> bool:
    """Put a draft in the outbox unless its dedupe key is there already; True when added."""
    return enqueue_all(session, [draft], now) == 1


def enqueue_all(session: Session, drafts: list[Draft], now: datetime) -> int:
    """Put drafts in the outbox, with their link tokens, in a few statements; how many added.

    A draft whose dedupe key exists already adds its communities to that message while it
    waits in the queue (`pending`), so a person who is the contact of several communities gets
    one message for the step. A message beyond that (claimed, sent, failed, cancelled) never
    gains communities: its body was rendered, and maybe read, without them. A draft that names
    communities such a message lacks becomes a message of its own, under its key extended by
    those communities.
    """
    if not drafts:
        return 0
    stored, late = _insert(session, drafts, now)
    if late:
        more, _ = _insert(session, late, now)  # a late one whose key exists is there already
        stored += more
    token_rows = [row for d in stored for row in d.tokens]
    if token_rows:
        insert_rows(session.connection(), IntakeToken.__table__, token_rows)
    return len(stored)


def _insert(session: Session, drafts: list[Draft], now: datetime) -> tuple[list[Draft],
                                                                          list[Draft]]:
    """Insert drafts unless their key exists; the drafts stored, and those that must become
    messages of their own because their key's message was handed on already."""
    # rowcount is not reliable for INSERT .. ON CONFLICT on every driver; RETURNING is.
    added = set(insert_rows(session.connection(), Message.__table__,
                            [_values(d, now) for d in drafts], skip_conflicts_on="dedupe_key",
                            returning="dedupe_key"))
    first: dict[str, Draft] = {}
    for d in drafts:
        first.setdefault(d.dedupe_key, d)
    stored = [d for d in drafts if d.dedupe_key in added and first[d.dedupe_key] is d]
    late = []
    for d in drafts:
        if d.dedupe_key in added and first[d.dedupe_key] is d:
            continue
        missing = _join_waiting(session, d.dedupe_key, d.community_ids, now)
        if missing:
            late.append(replace(d, dedupe_key=_late_key(d.dedupe_key, missing)))
    return stored, late


def _join_waiting(session: Session, key: str, community_ids: list[str],
                  now: datetime) -> list[str]:
    """Add communities to the message with this key while it waits in the queue; the
    communities it lacks and cannot gain any more (it was handed on)."""
    table = Message.__table__
    row = session.execute(
        sa.select(table.c.id, table.c.community_ids, table.c.state)
        .where(table.c.dedupe_key == key).with_for_update()
    ).one()
    missing = [c for c in community_ids if c not in row.community_ids]
    if not missing:
        return []
    if row.state != MessageState.PENDING:
        return missing
    session.execute(
        sa.update(table).where(table.c.id == row.id)
        .values(community_ids=list(row.community_ids) + missing, updated_at=now)
    )
    return []


def _late_key(key: str, communities: list[str]) -> str:
    """The key of a late message: the step's key and the communities it adds."""
    digest = hashlib.sha256("\n".join(sorted(communities)).encode()).hexdigest()[:16]
    return f"{key}|+{digest}"


def cancel_settled(
    session: Session, *, incident_id: int, settled: set[str] | None, now: datetime, reason: str
) -> int:
    """Cancel escalation messages not yet handed to a provider whose communities are all settled.

    `settled=None` cancels every open message of the incident (it was closed). Follow-ups are
    kept unless the incident is closed: aftercare is owed also to communities that answered.
    """
    table = Message.__table__
    unsent = sources(MessageState.CANCELLED, MessageState.PENDING, MessageState.FAILED_TEMP)
    stmt = sa.select(table.c.id, table.c.community_ids, table.c.step).where(
        table.c.incident_id == incident_id, table.c.state.in_(unsent)
    )
    ids = [
        r.id for r in session.execute(stmt)
        if settled is None
        or (not r.step.startswith("followup:") and set(r.community_ids) <= settled)
    ]
    if not ids:
        return 0
    # Only while still unsent: a worker may have claimed one since it was read.
    return session.execute(
        sa.update(table).where(table.c.id.in_(ids), table.c.state.in_(unsent))
        .values(state=MessageState.CANCELLED, detail=reason, updated_at=now)
    ).rowcount
