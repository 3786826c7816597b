"""Unit tests reach no database and start no process.

A test that opens a SQLite or PostgreSQL connection, or starts a process, belongs in
tests/integration/ or tests/smoke/. Here such an attempt is refused where it happens and, as
the code under test may catch the refusal, the test fails on teardown all the same.
"""

from __future__ import annotations

import multiprocessing.util
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

MOVE = "a unit test reaches no database and starts no process: move it to tests/integration/"


class OutsideUnitTest(RuntimeError):
    """A unit test tried to reach a database or start a process."""


def _refuser(what: str, attempts: list[str]) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        attempts.append(what)
        raise OutsideUnitTest(f"{what}: {MOVE}")

    return refuse


@pytest.fixture(autouse=True)
def no_database_or_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse database connections and new processes for the test; fail it if it tried."""
    attempts: list[str] = []
    sqlite = _refuser("opened a SQLite database", attempts)
    monkeypatch.setattr(sqlite3, "connect", sqlite)
    monkeypatch.setattr(sqlite3.dbapi2, "connect", sqlite)
    postgres = _refuser("opened a PostgreSQL connection", attempts)
    monkeypatch.setattr(psycopg, "connect", postgres)
    monkeypatch.setattr(psycopg.Connection, "connect", postgres)
    process = _refuser("started a process", attempts)
    monkeypatch.setattr(subprocess.Popen, "__init__", process)
    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", process)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        monkeypatch.setattr(os, name, process)
    yield attempts
    if attempts:
        pytest.fail(f"{MOVE} (it {', '.join(sorted(set(attempts)))})", pytrace=False)
