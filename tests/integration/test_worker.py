"""The worker's scheduler: it wakes by itself and stops cleanly, even mid-cycle."""

from __future__ import annotations

import logging
import threading
import time

from sqlmodel import select

from engine.store.db import session_scope
from engine.store.models import Message
from engine.wiring import build_worker


def test_started_worker_sends_and_stops_mid_cycle(ctx, declare) -> None:
    declare()
    worker = build_worker(ctx, name="scheduled")
    entered, release = threading.Event(), threading.Event()
    original = worker._firing.fn

    def slow_firing() -> None:  # hold the first firing open while the test asks for a stop
        original()
        entered.set()
        release.wait(5)

    worker._firing.fn = slow_firing
    worker.start()
    assert entered.wait(10), "the scheduler fired at start"
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    time.sleep(0.2)  # stop() is now waiting for the running cycle
    release.set()
    stopper.join(10)
    assert not stopper.is_alive(), "stop() finished while firing was planning its next wake-up"
    with session_scope(ctx.engine) as session:
        states = {m.state for m in session.exec(select(Message))}
    assert states == {"accepted"}


def test_the_scheduler_log_leaves_out_only_skipped_wakes(caplog) -> None:
    from engine.worker import scheduler_log

    with caplog.at_level(logging.WARNING, logger=scheduler_log.name):
        scheduler_log.warning('Execution of job "%s" skipped: maximum number of running '
                              'instances reached (%d)', "Worker.wake", 1)
        scheduler_log.warning("Run time of job %s was missed by %s", "Worker.wake", "0:00:02")
    assert [r.getMessage() for r in caplog.records] == [
        "Run time of job Worker.wake was missed by 0:00:02"]
