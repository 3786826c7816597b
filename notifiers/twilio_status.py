"""Twilio's words mapped to ours: send error codes to outcomes, message statuses to states.

Every row is decided here and nowhere else; each one has its own unit test.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifiers.base import DeliveryState, Outcome


@dataclass(frozen=True)
class ErrorRule:
    """What one Twilio error code means for the message that caused it."""

    outcome: Outcome
    reason: str  # short, stable, no personal data
    config: bool = False  # our account or sender is at fault, not the address


_P = Outcome.PERMANENT
_R = Outcome.RETRY

# Twilio REST error codes (https://www.twilio.com/docs/api/errors) for POST Messages.json.
# `permanent` means: this address will not get this SMS from us; fall back (other channel, next
# contact). Sender/service misconfiguration is permanent too, so that email takes over at once,
# except authentication, which makes every SMS fail the same way: keep retrying and let the
# engine show "SMS failing" (config=True marks rows an operator must fix).
SEND_ERRORS: dict[int, ErrorRule] = {
    20003: ErrorRule(_R, "authentication failed", config=True),
    20005: ErrorRule(_R, "account not active", config=True),
    20404: ErrorRule(_R, "account or resource not found", config=True),
    20429: ErrorRule(_R, "too many requests"),
    20500: ErrorRule(_R, "provider internal error"),
    20503: ErrorRule(_R, "provider unavailable"),
    21211: ErrorRule(_P, "invalid To number"),
    21212: ErrorRule(_P, "invalid From number", config=True),
    21214: ErrorRule(_P, "To number cannot be reached"),
    21217: ErrorRule(_P, "number does not appear valid"),
    21219: ErrorRule(_P, "To number not verified (trial account)", config=True),
    21265: ErrorRule(_P, "To number is a short code"),
    21266: ErrorRule(_P, "To and From are the same"),
    21401: ErrorRule(_P, "invalid phone number"),
    21407: ErrorRule(_P, "number type does not support SMS"),
    21408: ErrorRule(_P, "region not permitted"),
    21602: ErrorRule(_P, "message body required"),
    21603: ErrorRule(_P, "From or messaging service required", config=True),
    21604: ErrorRule(_P, "To number required"),
    21606: ErrorRule(_P, "From not message-capable for this destination", config=True),
    21608: ErrorRule(_P, "To number unverified (trial account)", config=True),
    21610: ErrorRule(_P, "recipient unsubscribed (STOP)"),
    21611: ErrorRule(_R, "sender queue full"),
    21612: ErrorRule(_P, "To number not reachable by SMS"),
    21614: ErrorRule(_P, "To number is not a mobile number"),
    21617: ErrorRule(_P, "message body too long"),
    21635: ErrorRule(_P, "To number is a landline"),
    21659: ErrorRule(_P, "From is not a valid sender for this account", config=True),
    21701: ErrorRule(_P, "messaging service not found", config=True),
}

# Every value of Twilio's `message_enum_status`. Anything final that is not a delivery is a
# failure: the engine falls back (a duplicate by email is better than a silent gap).
DELIVERY_STATUSES: dict[str, DeliveryState] = {
    "queued": DeliveryState.PROGRESS,
    "accepted": DeliveryState.PROGRESS,
    "scheduled": DeliveryState.PROGRESS,
    "sending": DeliveryState.PROGRESS,
    "sent": DeliveryState.PROGRESS,  # handed to the carrier; a delivery receipt may follow
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
    "partially_delivered": DeliveryState.FAILED,  # part of the text may be missing
    "receiving": DeliveryState.UNKNOWN,  # inbound statuses: not about a message we sent
    "received": DeliveryState.UNKNOWN,
}


def delivery_state(status: str) -> DeliveryState:
    """The DeliveryState of a Twilio message status (UNKNOWN for one Twilio adds later)."""
    return DELIVERY_STATUSES.get(status.strip().lower(), DeliveryState.UNKNOWN)


def classify_http_error(status: int, code: int | None) -> ErrorRule:
    """The rule for an error answer: the code's row, else a rule by HTTP status."""
    if code is not None and code in SEND_ERRORS:
        return SEND_ERRORS[code]
    if status == 429:
        return ErrorRule(_R, "too many requests")
    if status >= 500:
        return ErrorRule(_R, "provider error")
    if status in (401, 403):
        return ErrorRule(_R, "not authorised", config=True)
    if status == 404:
        return ErrorRule(_R, "not found", config=True)
    return ErrorRule(_P, "request refused")
