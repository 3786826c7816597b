"""The guard of tests/unit/: a unit test that reaches a database or starts a process fails,
also when the code under test catches the refusal; a unit test that does neither passes."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_CONFTEST = Path(__file__).resolve().parents[1] / "unit" / "conftest.py"

INNER_TESTS = '''
import multiprocessing
import os
import sqlite3
import subprocess

import psycopg
import sqlalchemy as sa


def test_pure():
    assert sum([1, 2]) == 3


def test_sqlite_file(tmp_path):
    sqlite3.connect(tmp_path / "x.db")


def test_sqlite_in_memory_through_sqlalchemy():
    with sa.create_engine("sqlite://").connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def test_postgres_refusal_caught_by_the_code():
    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test")
    except Exception:
        pass  # code under test that swallows errors must not hide the attempt


def test_subprocess():
    subprocess.run(["true"], check=False)


def test_fork():
    if os.fork() == 0:
        os._exit(0)


def test_multiprocessing():
    process = multiprocessing.get_context("spawn").Process(target=print)
    process.start()
    process.join()
'''


def test_the_unit_guard_fails_every_test_that_reaches_out(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(UNIT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    outcomes = {
        report.head_line: report.outcome
        for report in result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
        if report.when == "call" or report.failed  # a teardown failure comes last
    }
    assert outcomes["test_pure"] == "passed"
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert failed == {
        "test_sqlite_file", "test_sqlite_in_memory_through_sqlalchemy",
        "test_postgres_refusal_caught_by_the_code", "test_subprocess", "test_fork",
        "test_multiprocessing",
    }
    result.stdout.fnmatch_lines(["*move it to tests/integration/*"])
