"""In-process rate limits for the link pages: per client address and per link.

A generic cell rate (GCRA): a key may spend `burst` requests at once, then one per `every`.
The state lives in this process only (one `verbinder serve` answers the links; behind several
it is per process), on the injected clock, and at most `keys` keys are kept: the least
recently seen are forgotten first, so a flood of addresses cannot grow it without bound.
Libraries that do this (limits, token-bucket) read the system clock themselves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.clock import Clock


@dataclass(frozen=True)
class Rate:
    """`burst` requests at once, then one more per `every`."""

    burst: int
    every: timedelta


class KeyedLimiter:
    """Rate limits per key (an address, a link)."""

    def __init__(self, rate: Rate, clock: Clock, keys: int = 20_000) -> None:
        self.rate, self.clock, self.keys = rate, clock, keys
        self._due: OrderedDict[str, datetime] = OrderedDict()  # the theoretical arrival time
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one request of `key`: None when allowed, else the seconds until one is."""
        now = self.clock.now()
        tolerance = self.rate.every * (self.rate.burst - 1)
        with self._lock:
            due = max(self._due.get(key, now), now)
            if due - now > tolerance:
                return (due - now - tolerance).total_seconds()
            self._due[key] = due + self.rate.every
            self._due.move_to_end(key)
            while len(self._due) > self.keys:
                self._due.popitem(last=False)
        return None
