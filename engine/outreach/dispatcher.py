"""The dispatcher: claim outbox messages, hand each to its channel once, record the outcome.

`sending` is written and committed before the provider is called, so a process that dies while
the provider holds the request leaves the message `sending`; recovery turns that into
`ambiguous` (never resent blindly), while a message still `claimed` was certainly not sent and
goes back to `pending`. This module is the loop; the state changes are in `claims`, the send
machinery in `sending`.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sqlalchemy.engine import Engine

from engine.clock import Clock
from engine.outreach.claims import claim, give_back, renew_claims
from engine.outreach.fallback import FallbackHook
from engine.outreach.policy import DispatchPolicy
from engine.outreach.sending import Collector, HeldConnections, SendQueue, send_claimed
from notifiers.base import Notifier


def dispatch(
    engine: Engine,
    *,
    worker: str,
    clock: Clock,
    channels: Mapping[str, Notifier],
    policy: DispatchPolicy,
    fallback: FallbackHook,
    pool: ThreadPoolExecutor | None = None,
) -> dict[str, int]:
    """Claim and send until nothing is due; counts per outcome.

    The next batch is claimed while the last sends of the one before are still out, so one
    slow send does not leave the other sending threads idle.
    """
    counts: dict[str, int] = {}
    own_pool = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=policy.concurrency)
    held = HeldConnections(engine)
    send = partial(send_claimed, engine, worker=worker, clock=clock, channels=channels,
                   policy=policy, fallback=fallback, connection=held.get)
    sends = SendQueue(pool, send, policy.concurrency)
    collector = Collector(engine, worker, counts)
    renewed = clock.now()
    nothing_due = False
    try:
        while True:
            if not nothing_due and sends.left <= policy.concurrency:
                rows = claim(engine, worker=worker, now=clock.now(), policy=policy)
                sends.add(rows)
                nothing_due = not rows
            if not sends.left:
                if nothing_due:
                    return counts
                continue
            collector.collect(sends)
            # Sends that ended meanwhile may have queued fallbacks: look once more when all
            # have ended.
            nothing_due = nothing_due and bool(sends.left)
            if clock.now() - renewed >= policy.claim_refresh:
                renewed = clock.now()
                renew_claims(engine, worker, sends.waiting(), renewed)
    finally:
        unsent = sends.stop()
        collector.flush()
        give_back(engine, worker, unsent, clock.now())
        if own_pool:
            pool.shutdown()
        held.close()
