"""Every row of the Twilio tables, checked against an independent list of expectations."""

from __future__ import annotations

import pytest

from notifiers.base import DeliveryState, Outcome
from notifiers.twilio_status import (
    DELIVERY_STATUSES,
    SEND_ERRORS,
    classify_http_error,
    delivery_state,
)

P, R = Outcome.PERMANENT, Outcome.RETRY

# Decided from Twilio's error documentation, written out again here on purpose.
EXPECTED_SEND: dict[int, tuple[Outcome, bool]] = {
    20003: (R, True),
    20005: (R, True),
    20404: (R, True),
    20429: (R, False),
    20500: (R, False),
    20503: (R, False),
    21211: (P, False),
    21212: (P, True),
    21214: (P, False),
    21217: (P, False),
    21219: (P, True),
    21265: (P, False),
    21266: (P, False),
    21401: (P, False),
    21407: (P, False),
    21408: (P, False),
    21602: (P, False),
    21603: (P, True),
    21604: (P, False),
    21606: (P, True),
    21608: (P, True),
    21610: (P, False),
    21611: (R, False),
    21612: (P, False),
    21614: (P, False),
    21617: (P, False),
    21635: (P, False),
    21659: (P, True),
    21701: (P, True),
}

EXPECTED_STATUS: dict[str, DeliveryState] = {
    "queued": DeliveryState.PROGRESS,
    "accepted": DeliveryState.PROGRESS,
    "scheduled": DeliveryState.PROGRESS,
    "sending": DeliveryState.PROGRESS,
    "sent": DeliveryState.PROGRESS,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
    "partially_delivered": DeliveryState.FAILED,
    "receiving": DeliveryState.UNKNOWN,
    "received": DeliveryState.UNKNOWN,
}

# Twilio's `message_enum_status` (OpenAPI description of API 2010).
TWILIO_STATUS_ENUM = {
    "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving", "received",
    "accepted", "scheduled", "read", "partially_delivered", "canceled",
}  # fmt: skip


def test_tables_have_exactly_the_expected_rows() -> None:
    assert set(SEND_ERRORS) == set(EXPECTED_SEND)
    assert set(DELIVERY_STATUSES) == set(EXPECTED_STATUS) == TWILIO_STATUS_ENUM


@pytest.mark.parametrize("code", sorted(SEND_ERRORS))
def test_send_error_row(code: int) -> None:
    rule = SEND_ERRORS[code]
    assert (rule.outcome, rule.config) == EXPECTED_SEND[code]
    assert rule.reason and not any(ch.isdigit() for ch in rule.reason)
    # the row wins over the HTTP status, whatever status Twilio sent it with
    assert classify_http_error(400, code) == rule


@pytest.mark.parametrize("status", sorted(DELIVERY_STATUSES))
def test_delivery_status_row(status: str) -> None:
    assert DELIVERY_STATUSES[status] is EXPECTED_STATUS[status]
    assert delivery_state(status.upper()) is EXPECTED_STATUS[status]


def test_undelivered_is_a_failure_not_a_success() -> None:
    assert delivery_state("undelivered") is DeliveryState.FAILED


def test_unknown_status_is_unknown() -> None:
    assert delivery_state("teleported") is DeliveryState.UNKNOWN


@pytest.mark.parametrize(
    ("status", "code", "outcome", "config"),
    [
        (429, None, R, False),
        (500, None, R, False),
        (502, 99999, R, False),
        (503, None, R, False),
        (401, None, R, True),
        (403, None, R, True),
        (404, None, R, True),
        (400, None, P, False),
        (400, 99999, P, False),
        (422, None, P, False),
    ],
)
def test_unmapped_errors_fall_back_on_http_status(
    status: int, code: int | None, outcome: Outcome, config: bool
) -> None:
    rule = classify_http_error(status, code)
    assert (rule.outcome, rule.config) == (outcome, config)
