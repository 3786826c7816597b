"""The states of messages, timers, incidents and their communities, and the moves between them.

Every writer of a state goes through here: an ORM writer with `move`, a SQL writer by naming
the states its statement moves from with `sources` (its WHERE clause) and the state it writes
with `check`. A move the tables below do not hold raises `IllegalTransition`. The enums are
`StrEnum`s, so the stored text is the state's name as before, and the database refuses any
other text (CHECK constraints, migration 0003_states).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar


class MessageState(StrEnum):
    """Where a message of the outbox is (docs/ARCHITECTURE.md, "Messages go through an outbox")."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    FAILED_TEMP = "failed_temp"
    FAILED_PERM = "failed_perm"
    AMBIGUOUS = "ambiguous"
    CANCELLED = "cancelled"


class TimerState(StrEnum):
    """Where an escalation step or follow-up is: due later, fired, or cancelled unfired."""

    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class CommunityStatus(StrEnum):
    """Whether a matched community of an incident has been reached."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class IncidentStatus(StrEnum):
    """Whether an incident is running."""

    OPEN = "open"
    CLOSED = "closed"


S = TypeVar("S", MessageState, TimerState, CommunityStatus, IncidentStatus)

_M = MessageState
# The provider's word on delivery settles any message that is not settled yet: a status
# callback may name a message by our reference before its acceptance was recorded, or after
# its send ended ambiguous.
_PROVIDER_SAYS = frozenset({_M.DELIVERED, _M.FAILED_PERM})

TRANSITIONS: Mapping[type[StrEnum], Mapping[Any, frozenset[Any]]] = {
    MessageState: {
        _M.PENDING: frozenset({_M.CLAIMED, _M.CANCELLED}) | _PROVIDER_SAYS,
        _M.FAILED_TEMP: frozenset({_M.CLAIMED, _M.CANCELLED}) | _PROVIDER_SAYS,
        # claimed -> pending: recovery gives back the claim of a dead worker (never sent)
        _M.CLAIMED: frozenset({_M.SENDING, _M.PENDING}) | _PROVIDER_SAYS,
        # sending -> ambiguous: the channel could not tell, or the worker died during the call
        _M.SENDING: frozenset({_M.ACCEPTED, _M.FAILED_TEMP, _M.FAILED_PERM, _M.AMBIGUOUS})
        | _PROVIDER_SAYS,
        _M.ACCEPTED: _PROVIDER_SAYS,
        # ambiguous -> accepted: a status callback carrying our reference, or the provider's
        # message list, reconciles it; ambiguous -> pending: the provider certainly holds
        # none, so it is sent once more (engine/outreach/settle.py)
        _M.AMBIGUOUS: frozenset({_M.ACCEPTED, _M.PENDING}) | _PROVIDER_SAYS,
        _M.DELIVERED: frozenset(),
        _M.FAILED_PERM: frozenset(),
        _M.CANCELLED: frozenset(),
    },
    TimerState: {
        TimerState.PENDING: frozenset({TimerState.FIRED, TimerState.CANCELLED}),
        TimerState.FIRED: frozenset(),
        TimerState.CANCELLED: frozenset(),
    },
    CommunityStatus: {
        CommunityStatus.OPEN: frozenset({CommunityStatus.ACKNOWLEDGED}),
        CommunityStatus.ACKNOWLEDGED: frozenset(),
    },
    IncidentStatus: {
        IncidentStatus.OPEN: frozenset({IncidentStatus.CLOSED}),
        IncidentStatus.CLOSED: frozenset(),
    },
}


class IllegalTransition(RuntimeError):
    """A writer tried a move between states that the transition tables do not hold."""


def can(old: str, new: S) -> bool:
    """Whether a row in state `old` may move to `new`."""
    kind = type(new)
    try:
        return new in TRANSITIONS[kind][kind(old)]
    except ValueError:
        return False


def check(old: str, new: S) -> S:
    """`new`, when a row in state `old` may move to it; else IllegalTransition."""
    if not can(old, new):
        raise IllegalTransition(f"{type(new).__name__}: {old!s} -> {new!s} is not allowed")
    return new


def move(row: Any, new: S, attr: str = "state") -> None:
    """Set the state of an ORM row (its `attr`), when its present state may move to `new`."""
    setattr(row, attr, check(getattr(row, attr), new))


def sources(new: S, *olds: S) -> tuple[S, ...]:
    """The states a SQL statement moves to `new` from (for its WHERE clause), each checked."""
    for old in olds:
        check(old, new)
    return olds


def is_final(state: S) -> bool:
    """Whether nothing moves a row on from this state."""
    return not TRANSITIONS[type(state)][state]


def values_of(kind: type[StrEnum]) -> tuple[str, ...]:
    """The stored texts of a state enum, in order (for CHECK constraints)."""
    return tuple(member.value for member in kind)
