"""The SMS channel's pieces that need no server: transport errors, Retry-After, callback URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from notifiers.base import Outcome
from notifiers.twilio_sms import (
    RoutingHttpClient,
    TwilioSmsNotifier,
    parse_retry_after,
    result_of_transport_error,
    with_reference,
)


def _refused() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(reason)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), Outcome.RETRY),
        (_refused(), Outcome.RETRY),
        (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "x")), Outcome.RETRY),
        (requests.exceptions.SSLError("handshake"), Outcome.RETRY),
        (requests.exceptions.ReadTimeout("read timed out"), Outcome.AMBIGUOUS),
        (
            requests.exceptions.ConnectionError(
                ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            ),
            Outcome.AMBIGUOUS,
        ),
        (requests.exceptions.ChunkedEncodingError("broken"), Outcome.AMBIGUOUS),
    ],
)
def test_transport_errors(error: requests.exceptions.RequestException, outcome: Outcome) -> None:
    assert result_of_transport_error(error).outcome is outcome


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (parse_retry_after(later) or 0) <= 120


def test_callback_url_carries_the_reference() -> None:
    assert with_reference("https://x.example.org/cb", "m-1") == "https://x.example.org/cb?ref=m-1"
    assert (
        with_reference("https://x.example.org/cb?a=1&ref=old", "m 2")
        == "https://x.example.org/cb?a=1&ref=m+2"
    )


def test_base_url_rewrites_only_twilio_hosts() -> None:
    client = RoutingHttpClient("http://127.0.0.1:9999/")
    seen: list[str] = []
    client.session.send = lambda prepared, **kw: seen.append(prepared.url) or _fake_response()  # type: ignore[method-assign]
    client.request("GET", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
    assert seen == ["http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Messages.json"]
    assert client.last_headers()["retry-after"] == "3"


def _fake_response() -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "3"
    response._content = b"{}"
    return response


def test_a_sender_is_required() -> None:
    with pytest.raises(ValueError, match="messaging_service_sid or from_"):
        TwilioSmsNotifier("AC" + "0" * 32, "token")
