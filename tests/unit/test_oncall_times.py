"""Times in a roster: local Dutch time or an explicit offset, to UTC; a DST gap or a repeated
hour is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.oncall.times import parse_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-23 08:00", utc(2026, 11, 23, 7)),
    ("2026-07-01T08:00", utc(2026, 7, 1, 6)),
    ("2026-11-23T08:00:00Z", utc(2026, 11, 23, 8)),
    ("2026-11-23T08:00:00+05:30", utc(2026, 11, 23, 2, 30)),
    ("2026-10-25T02:30:00+01:00", utc(2026, 10, 25, 1, 30)),
])
def test_parse_time_accepts(text: str, expected: datetime):
    assert parse_time(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "not a time"), ("23-11-2026 08:00", "not a time"), ("2026-11-23", "not a time"),
    ("2026-13-01 08:00", "not a valid time"), ("2026-03-29 02:30", "does not exist"),
    ("2026-10-25 02:30", "occurs twice"),
])
def test_parse_time_refuses(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_time(text)
