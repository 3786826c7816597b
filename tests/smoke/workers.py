"""Real worker processes for smoke tests: start `verbinder worker`, SIGKILL it, wait on the store.

Workers run as separate processes with the real `twilio` library aimed at the fake Twilio
server and SMTP at the test's aiosmtpd server. Waiting on another process is a bounded poll of
the database (a short sleep inside a deadline); time-dependent logic is never made to happen by
sleeping: the test moves timer rows instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.clock import SystemClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from playbook.loader import load_playbook
from playbook.model import IncidentInput

from .fake_twilio import FakeTwilio
from .smtp_server import SmtpServer

T = TypeVar("T")

BIN = Path(sys.executable).parent
VERBINDER = BIN / "verbinder"
PUBLIC_URL = "https://verbinder.example.org"
SECRET_KEY = "smoke-secret-not-secret"
PREFIXES = ("VERBINDER_", "TWILIO_", "SMTP_")

# A process that claims due messages the way a worker does and then dies before sending.
CLAIM_AND_DIE = """
import json, os, signal, sys
from config.settings import load_settings
from engine.escalation.cycle import fire_due
from engine.outreach.claims import claim
from engine.store.db import session_scope
from engine.wiring import AppContext, build_worker

ctx = AppContext(settings=load_settings(dotenv_path=None), db_url=sys.argv[1])
worker = build_worker(ctx, name=sys.argv[2])
worker.hold_life()
with session_scope(ctx.engine) as session:
    fire_due(session, now=ctx.clock.now(), links=ctx.links, worker=worker.id)
rows = claim(ctx.engine, worker=worker.id, now=ctx.clock.now(), policy=ctx.dispatch_policy)
print(json.dumps([r.id for r in rows]), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def worker_env(fake_twilio: FakeTwilio, smtp_server: SmtpServer | None = None,
               **extra: str) -> dict[str, str]:
    """The environment of a worker process: fake Twilio, test SMTP, a short heartbeat."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update(fake_twilio.environment())
    env.update({
        "VERBINDER_PUBLIC_URL": PUBLIC_URL,
        "VERBINDER_SECRET_KEY": SECRET_KEY,
        "VERBINDER_WORKER_HEARTBEAT_SECONDS": "0.2",
        "VERBINDER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    if smtp_server is not None:
        env.update({"SMTP_HOST": smtp_server.host, "SMTP_PORT": str(smtp_server.port),
                    "SMTP_STARTTLS": "no"})
    env.update(extra)
    return env


def wait_until(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05,
               what: str = "condition", check: Callable[[], None] | None = None) -> T:
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout`.

    `check` runs on every round too, e.g. to fail at once when a worker died unexpectedly.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}", pytrace=False)
        time.sleep(interval)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    """One value from the store."""
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: Any) -> list[sa.Row]:
    """Rows from the store."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def execute(engine: Engine, sql: str, **params: Any) -> int:
    """Change the store in one transaction; the number of rows touched."""
    with engine.begin() as conn:
        return conn.execute(sa.text(sql), params).rowcount


def import_folder(engine: Engine, folder: Path) -> None:
    """Import a registry folder into the store."""
    import_registry(engine, [folder], clock=SystemClock())


def declare(engine: Engine, playbook: Path, *, type: str, fields: dict[str, Any] | None = None,
            declared_at: datetime | None = None) -> int:
    """Declare an incident in-process (the workers do the sending); its id."""
    now = datetime.now(UTC)
    incident = IncidentInput(type=type, declared_at=declared_at or now, title="Smoke incident",
                             severity=3, fields=fields or {})
    with session_scope(engine) as session:
        row, _ = declare_incident_flow(session, playbook=load_playbook(playbook),
                                       incident=incident,
                                       snapshot=load_snapshot(session.connection()), now=now)
        assert row.id is not None
        return row.id


class WorkerProcesses:
    """Starts real worker processes on one database and kills them; all are killed at the end."""

    def __init__(self, db_url: str, playbook: Path, env: dict[str, str], folder: Path) -> None:
        self.db_url = db_url
        self.playbook = playbook
        self.env = env
        self.folder = folder
        self.started: list[subprocess.Popen[bytes]] = []
        self.expected_dead: set[int] = set()

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        """Start one `verbinder worker` process (its output goes to a log file)."""
        n = len(self.started)
        log = (self.folder / f"worker-{n}.log").open("wb")
        proc = subprocess.Popen(
            [str(VERBINDER), "--db", self.db_url, "--playbook", str(self.playbook), "worker"],
            env={**self.env, **env}, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker and reap it."""
        self.expected_dead.add(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def kill_all(self) -> None:
        """SIGKILL every worker still running."""
        for proc in self.started:
            if proc.poll() is None:
                self.kill(proc)

    def worker_id_prefix(self, proc: subprocess.Popen[bytes]) -> str:
        """How the ids a worker process writes into `claimed_by` begin."""
        return f"{socket.gethostname()}-{proc.pid}-"

    def check_alive(self) -> None:
        """Fail at once, with its log, when a worker died that the test did not kill."""
        for n, proc in enumerate(self.started):
            if proc.pid not in self.expected_dead and proc.poll() is not None:
                pytest.fail(f"worker {n} exited with {proc.returncode}:\n{self.log(n)}",
                            pytrace=False)

    def log(self, n: int) -> str:
        """The tail of a worker's output."""
        path = self.folder / f"worker-{n}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def claim_and_die(self, name: str) -> list[int]:
        """Run a process that fires due timers, claims due messages as worker `name` while
        holding its life lock, and SIGKILLs itself before sending; the ids it claimed."""
        done = subprocess.run(
            [str(BIN / "python"), "-c", CLAIM_AND_DIE, self.db_url, name],
            env=self.env, cwd=self.folder, capture_output=True, timeout=60,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr.decode(errors="replace")[-4000:]
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `verbinder` command against this database."""
        return subprocess.run(
            [str(VERBINDER), "--db", self.db_url, "--playbook", str(self.playbook), *args],
            env=self.env, cwd=self.folder, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,  # a script: never the terminal `declare` would ask on
        )


def worker_processes(db_url: str, playbook: Path, env: dict[str, str],
                     folder: Path) -> Iterator[WorkerProcesses]:
    """Yield a WorkerProcesses; every process it started is SIGKILLed afterwards."""
    procs = WorkerProcesses(db_url, playbook, env, folder)
    try:
        yield procs
    finally:
        procs.kill_all()
