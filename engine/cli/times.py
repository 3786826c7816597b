"""Times for people: the playbook's local time with its offset (`2026-03-29 03:10 +02:00`).

JSON documents keep UTC (`Z`, CLI.md); only what a person reads is turned into local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import InputError

if TYPE_CHECKING:
    from engine.wiring import AppContext


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(value: str | datetime | None, zone: str | None) -> str:
    """A time (aware datetime, or ISO 8601 text such as `...Z`) as local time in the zone with
    its offset; text that is not a time is returned as it is, none as `-`."""
    if value is None or value == "":
        return "-"
    when = value
    if isinstance(when, str):
        text = when.strip()
        try:
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            return value if isinstance(value, str) else str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    tz = _zone(zone) if zone else None
    local = when.astimezone(tz if tz is not None else UTC)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def people_zone(app: AppContext) -> str:
    """The time zone people read times in: the configured playbook's (UTC if it is broken)."""
    try:
        return app.load_playbook().timezone
    except InputError:
        return "UTC"
