"""Store work of web requests, in threads: the event loop never waits for the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from sqlmodel import Session

from engine.store.db import session_scope
from engine.wiring import AppContext

T = TypeVar("T")

READ_THREADS = 8  # store reads of pages at once
WRITE_THREADS = 4  # store writes (webhooks, submissions) at once; on SQLite they queue anyway


class StoreThreads:
    """Runs store work in threads, each in a transaction of its own: reads and writes on
    separate budgets, so writers waiting for a lock never take the threads pages read in."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._budgets: dict[bool, anyio.CapacityLimiter] = {}

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a read-only transaction."""
        return await self._run(work, read_only=True)

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a transaction that may write."""
        return await self._run(work, read_only=False)

    async def _run(self, work: Callable[[Session], T], *, read_only: bool) -> T:
        budget = self._budgets.get(read_only)
        if budget is None:  # made on the event loop, on first use
            budget = anyio.CapacityLimiter(READ_THREADS if read_only else WRITE_THREADS)
            self._budgets[read_only] = budget

        def run() -> T:
            with session_scope(self.ctx.engine, read_only=read_only) as session:
                return work(session)

        return await anyio.to_thread.run_sync(run, limiter=budget)
