"""The worker's scheduler: it wakes by itself and stops cleanly, even mid-cycle."""

from __future__ import annotations

import threading
import time

from sqlmodel import select

from engine.store.db import session_scope
from engine.store.models import Message
from engine.worker import Worker


def test_started_worker_sends_and_stops_mid_cycle(ctx, declare) -> None:
    declare()
    worker = Worker(ctx, name="scheduled")
    entered, release = threading.Event(), threading.Event()
    original = worker.run_cycle

    def slow_cycle():  # hold the first cycle open while the test asks the worker to stop
        result = original()
        entered.set()
        release.wait(5)
        return result

    worker.run_cycle = slow_cycle  # type: ignore[method-assign]
    worker.start()
    assert entered.wait(10), "the scheduler ran a cycle at start"
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    time.sleep(0.2)  # stop() is now waiting for the running cycle
    release.set()
    stopper.join(10)
    assert not stopper.is_alive(), "stop() finished while a cycle was planning its next wake-up"
    with session_scope(ctx.engine) as session:
        states = {m.state for m in session.exec(select(Message))}
    assert states == {"accepted"}
