"""A serving process settles its heap before it serves: what start-up built is kept out of
later collections, and young objects are collected less often (engine.web.server)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from engine.web.server import SERVING_THRESHOLDS, settle_heap


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector's state before the test, restored after it."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_what_start_up_built_and_raises_the_young_threshold(
        collector: None) -> None:
    built = [{"row": n} for n in range(1000)]  # what start-up built: it lives on
    before = gc.get_freeze_count()
    settle_heap()
    assert gc.get_threshold() == SERVING_THRESHOLDS
    assert gc.get_freeze_count() >= before + len(built)
    assert gc.isenabled()  # collections still happen, less often
