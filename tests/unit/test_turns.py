"""`engine.worker.Turns`: a wake-up is never lost, and the function never runs twice at once.

The races are forced with events around the critical points, not with sleeps.
"""

from __future__ import annotations

import threading

from engine.worker import Turns

WAIT = 10  # seconds an event may take before the test fails (it never sleeps)


class GatedLock:
    """Turns' lock, holding the thread that releases it (once) until the test lets it go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.releasing, self.go_on = threading.Event(), threading.Event()
        self.gated = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        if not self.gated:
            self.gated = True
            self.releasing.set()
            assert self.go_on.wait(WAIT), "the test never let the release go on"
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_wake_up_between_the_last_check_and_the_release_is_not_lost() -> None:
    calls: list[int] = []
    turns = Turns("test", lambda: calls.append(1))
    gate = GatedLock()
    turns.lock = gate  # type: ignore[assignment]

    runner = threading.Thread(target=turns.run)
    runner.start()
    assert gate.releasing.wait(WAIT), "the first run is about to let go of its turn"
    assert calls == [1]
    turns.run()  # arrives now: the turn is still held, so it only asks for another round
    gate.go_on.set()
    runner.join(WAIT)

    assert not runner.is_alive()
    assert calls == [1, 1], "the wake-up that came before the release ran the function again"
    turns.wait_idle()


def test_a_wake_up_while_running_makes_it_go_round_once_more_never_twice_at_once() -> None:
    inside, go_on = threading.Event(), threading.Event()
    running = 0
    most = 0
    calls: list[int] = []
    lock = threading.Lock()

    def fn() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            calls.append(1)
        if len(calls) == 1:
            inside.set()
            assert go_on.wait(WAIT)
        with lock:
            running -= 1

    turns = Turns("test", fn)
    first = threading.Thread(target=turns.run)
    first.start()
    assert inside.wait(WAIT)
    turns.run()  # three wake-ups while it runs: one more round covers them all
    turns.run()
    turns.run()
    go_on.set()
    first.join(WAIT)
    turns.wait_idle()
    assert not first.is_alive()
    assert len(calls) == 2 and most == 1


def test_a_failing_function_leaves_the_turn_free() -> None:
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    turns = Turns("test", fn)
    turns.run()
    turns.run()
    assert calls == [1, 1]
