"""Three `verbinder worker` processes started together on an empty database: one schema, no
error. Each process migrates on first use; the migration lock makes them take turns."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from engine.store.db import alembic_config, make_engine

from .workers import BIN, PREFIXES, wait_until

PROCESSES = 3

# `verbinder` itself, held at a start line once its imports are done: the test lets all of
# them go at the same moment, so that their migrations overlap (importing takes longer than
# migrating, and would otherwise spread them out).
AT_THE_START_LINE = """
import sys
from engine.cli import main
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["verbinder", *sys.argv[1:]]
main()
"""


def start_together(db_url: str, folder: Path, n: int) -> list[subprocess.Popen[str]]:
    """Start `n` worker processes, wait until each is at the start line, let all go at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    # No secret key set: each process also reads or makes the stored one on its first wake.
    env.update({"VERBINDER_WORKER_HEARTBEAT_SECONDS": "0.2", "VERBINDER_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1"})
    procs = []
    for k in range(n):
        log = (folder / f"worker-{k}.log").open("w")
        procs.append(subprocess.Popen(
            [str(BIN / "python"), "-c", AT_THE_START_LINE, "--db", db_url, "worker"],
            env=env, cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True))
        log.close()
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    return procs


def logs(folder: Path) -> list[str]:
    return [(folder / f"worker-{k}.log").read_text() for k in range(PROCESSES)]


@pytest.fixture(params=["postgres", "sqlite"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a fresh PostgreSQL database, or no SQLite file yet."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def test_three_workers_started_together_on_an_empty_database_migrate_it_once(
    empty_db: str, tmp_path: Path
) -> None:
    folder = tmp_path
    procs = start_together(empty_db, folder, PROCESSES)
    try:
        def all_running() -> bool:
            for proc, text in zip(procs, logs(folder), strict=True):
                if proc.poll() is not None:
                    pytest.fail(f"a worker exited with {proc.returncode}:\n{text[-4000:]}",
                                pytrace=False)
            return all(" running; " in text for text in logs(folder))

        wait_until(all_running, timeout=60, what="every worker to be running")
        engine = make_engine(empty_db)
        try:
            wait_until(lambda: _secret_rows(engine) == 1, timeout=30,
                       what="the stored secret key")
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
            with engine.connect() as conn:
                versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
            assert versions == [(head,)]
            command.check(alembic_config(engine))  # the schema is the models' schema
        finally:
            engine.dispose()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in procs]
    texts = logs(folder)
    assert codes == [0] * PROCESSES, "\n---\n".join(t[-4000:] for t in texts)
    for text in texts:
        assert "Traceback" not in text and "rror" not in text, text[-4000:]


def _secret_rows(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM meta WHERE key = 'secret_key'").scalar_one()
    except sa.exc.OperationalError:  # SQLite: still locked by a migrating process
        return 0
