"""paused_gc (engine/cli/output.py): the collector is off inside the block and its state is
restored after it, also when the block fails (in-process runs, the tests, go on collecting)."""

from __future__ import annotations

import gc

import pytest

from engine.cli.output import paused_gc


def test_the_collector_is_off_inside_and_back_after() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled(), "an inner block does not switch it on early"
    assert gc.isenabled()


def test_a_failing_block_switches_it_back_on() -> None:
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
