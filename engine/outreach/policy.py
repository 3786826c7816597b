"""How the dispatcher sends: retries with backoff, throttling per address, concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DispatchPolicy:
    """Retries, throttling and concurrency of the dispatcher."""

    max_attempts: int = 4
    base_delay: timedelta = timedelta(seconds=15)
    max_delay: timedelta = timedelta(minutes=5)
    per_address_interval: timedelta = timedelta(seconds=30)
    concurrency: int = 8
    batch: int = 200
    # How often claims waiting in the send queue are renewed (claimed_at): well within the
    # claim timeout, so that no claim of a living process looks abandoned by its age.
    claim_refresh: timedelta = timedelta(seconds=30)

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        """Backoff after `attempts` tries, never shorter than the provider's Retry-After."""
        backoff = min(self.max_delay, self.base_delay * (1 << max(0, attempts - 1)))
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        return backoff
