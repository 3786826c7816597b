"""The notifier contract: `send(message) -> result` in one vocabulary for every channel."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


class Outcome(enum.StrEnum):
    """What became of one send attempt."""

    ACCEPTED = "accepted"  # the provider took it; delivery status may follow
    RETRY = "retry"  # temporary failure: try again later (honour retry_after)
    PERMANENT = "permanent"  # will never work for this address on this channel
    AMBIGUOUS = "ambiguous"  # unknown whether the provider took it: never resend blindly


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one address on one channel."""

    channel: str  # sms | email
    to: str  # E.164 phone or email address
    body: str
    reference: str  # our opaque message id, for logs and callbacks; no personal data
    subject: str | None = None
    html: str | None = None
    locale: str = "nl"
    to_name: str | None = None  # display name for email; sanitised by the channel


@dataclass(frozen=True)
class SendResult:
    """The answer of a channel to one send."""

    outcome: Outcome
    provider_id: str | None = None
    detail: str = ""  # code and reason, never personal data
    retry_after: float | None = None  # seconds, when the provider said so
    error_code: str | None = None  # the provider's error code, when it gave one
    config_error: bool = False  # our account/sender settings are at fault, not the address


class DeliveryState(enum.StrEnum):
    """A provider's later word on a message it accepted."""

    PROGRESS = "progress"  # queued, sending, sent: nothing final yet
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: fall back to the other channel or the next contact
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusEvent:
    """A delivery status callback, parsed."""

    provider_id: str
    status: str
    state: DeliveryState
    error_code: str | None = None


@dataclass(frozen=True)
class InboundText:
    """A text message sent to us, parsed."""

    provider_id: str
    sender: str  # E.164
    body: str


class Notifier(Protocol):
    """A channel: turns one message into one result."""

    channel: str

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; never raises for provider trouble, answers with an outcome."""
        ...


# --- looking up what a provider holds (an optional capability) --------------------------------


@dataclass(frozen=True)
class LookupQuery:
    """A message whose send ended ambiguous, as the provider would know it."""

    to: str  # the address it was sent to
    reference: str  # our opaque message id
    after: datetime  # the provider cannot have taken it before this (our claim, less skew)
    before: datetime  # nor after this (when it became ambiguous, plus skew)
    asked_at: datetime  # now, by the engine's clock


@dataclass(frozen=True)
class ProviderMessage:
    """One message the provider holds that may be ours: sent from our sender to the address
    within the window."""

    provider_id: str
    created_at: datetime
    status: str
    state: DeliveryState


@dataclass(frozen=True)
class LookupResult:
    """What the provider holds for a query.

    `complete` says the provider was asked about the whole window and answered in full, so that
    `found` empty means it certainly holds no such message; an error or a cut-off answer is not
    complete.
    """

    found: tuple[ProviderMessage, ...] = ()
    complete: bool = False
    detail: str = ""  # never personal data


@runtime_checkable
class MessageLookup(Protocol):
    """A channel that can tell which messages its provider holds for an address."""

    def lookup(self, query: LookupQuery) -> LookupResult:
        """Ask the provider; never raises for provider trouble (answers not complete)."""
        ...
