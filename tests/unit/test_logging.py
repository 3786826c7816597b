"""Log redaction: phone numbers, email addresses and link tokens never reach a log line."""

from __future__ import annotations

import logging

import pytest

from config.logging import RedactingFilter, redact


@pytest.mark.parametrize("text", [
    "sending to +31612345678 now", "sending to 06-12345678 now", "sending to 06 12 34 56 78",
    "mail for zeynep.kaya@example.org failed", "GET /i/AbCdEfGh12345678.xYz HTTP/1.1",
    "POST /a/0123456789abcdef", "auth_token=abcdef0123456789",
    '"GET /a/shortTok?x=1 HTTP/1.1" 200',
])
def test_redact_removes_personal_data(text: str) -> None:
    out = redact(text)
    for secret in ("+31612345678", "06-12345678", "06 12 34 56 78", "zeynep.kaya@example.org",
                   "AbCdEfGh12345678.xYz", "0123456789abcdef", "abcdef0123456789",
                   "shortTok"):
        assert secret not in out


def test_redact_keeps_ordinary_text() -> None:
    assert redact("incident 12 declared: 4 communities, 2 messages") == \
        "incident 12 declared: 4 communities, 2 messages"


def test_filter_redacts_arguments_and_exceptions() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s", ("+31612345678",), None)
    try:
        raise ValueError("bad address b1@example.org")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert "+31612345678" not in record.getMessage()
    assert "b1@example.org" not in (record.exc_text or "")
