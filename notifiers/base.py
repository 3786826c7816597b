"""The notifier contract: `send(message) -> result` in one vocabulary for every channel."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


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
