"""Shared helpers for the benchmarks: throwaway stores, a bench playbook and registry, a fake
Twilio in its own process, a channel that records when it is called, and small tables."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generate import Rows, generate_registry
from config.settings import Settings
from engine.clock import Clock, SystemClock
from engine.store.db import make_engine, migrate
from engine.wiring import AppContext
from notifiers.base import Notifier, OutboundMessage, Outcome, SendResult

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PUBLIC_URL = "https://verbinder.example.org"
SECRET_KEY = "bench-secret-not-secret"
CONSENT = "2026-01-15"

# One rule matching every community of the incident's group (or every community for "all"),
# one outreach task and a policy with a single `0m primary` step.
PLAYBOOK_YAML = """\
playbook:
  id: bench
  version: "1"
  name: "Benchstad"
  default_locale: nl
  timezone: Europe/Amsterdam
incident_types:
  bench:
    label: {nl: "Benchmark", en: "Benchmark"}
    fields:
      group: {type: string, required: true}
rules:
  - id: everyone
    select: incident.fields.group in ("all", community.attributes.bench_group)
    role: affected
    tasks: [first-contact]
    escalation: primary-now
tasks:
  first-contact:
    title: {nl: "Contact leggen", en: "Make contact"}
    due: 1h
    kind: outreach
    owner: liaison
escalation_policies:
  primary-now:
    steps:
      - {after: 0m, notify: primary, template: first_contact}
templates:
  first_contact:
    sms:
      nl: "Gemeente {{ municipality }}: {{ incident.title }}. Wij willen u spreken. Antwoord OK."
      en: "Municipality {{ municipality }}: {{ incident.title }}. Please reply OK."
    email:
      subject: {nl: "Gemeente {{ municipality }}", en: "Municipality {{ municipality }}"}
      body: {nl: "Bevestig: {{ ack_url }}", en: "Confirm: {{ ack_url }}"}
"""


# --- stores ----------------------------------------------------------------------------------


def postgres_reachable() -> bool:
    """Whether the loopback PostgreSQL answers."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:
        return False
    finally:
        admin.dispose()


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new PostgreSQL database on 127.0.0.1 for the duration of the block, then dropped."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"verbinder_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def throwaway_sqlite() -> Iterator[str]:
    """A new SQLite file in a temporary folder for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="verbinder-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def throwaway_store(backend: str) -> Iterator[str]:
    """A fresh store URL of this backend (`sqlite` or `postgresql`), removed afterwards."""
    maker = throwaway_postgres if backend == "postgresql" else throwaway_sqlite
    with maker() as url:
        yield url


def backends(only: str | None = None) -> list[str]:
    """The backends to run: SQLite, and PostgreSQL when it answers on loopback."""
    chosen = ["sqlite", "postgresql"] if only in (None, "all") else [only]
    if "postgresql" in chosen and not postgres_reachable():
        print("  postgresql on 127.0.0.1:5432 not reachable: skipped")
        chosen.remove("postgresql")
    return chosen


def make_context(url: str, *, clock: Clock | None = None,
                 channels: dict[str, Notifier] | None = None, **settings: Any) -> AppContext:
    """An AppContext on a migrated store at `url`, with bench defaults for links and secrets."""
    base = Settings(database_url=url, public_url=PUBLIC_URL, secret_key=SECRET_KEY,
                    log_level="WARNING")
    ctx = AppContext(settings=base.replace(**settings), clock=clock or SystemClock(),
                     channels_override=channels)
    engine = make_engine(url, connections=ctx.settings.send_concurrency + 10)
    migrate(engine)
    ctx.__dict__["engine"] = engine
    return ctx


# --- playbook and registry -------------------------------------------------------------------


def write_playbook(folder: Path) -> Path:
    """Write the bench playbook into `folder`; return the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench-playbook.yaml"
    path.write_text(PLAYBOOK_YAML, encoding="utf-8")
    return path


def bench_registry(n_communities: int, *, groups: int = 1, seed: int = 7) -> Rows:
    """A generated registry in which every community has one eligible primary SMS contact with
    its own number, and a `bench_group` column (g01..gNN) to aim an incident at a group."""
    rows = generate_registry(n_communities, 1, seed=seed)
    per_group = max(1, -(-n_communities // groups))
    for i, community in enumerate(rows["communities"]):
        community["bench_group"] = f"g{i // per_group + 1:02d}"
    for i, contact in enumerate(rows["contacts"]):
        contact.update(phone=f"06-2{i:07d}", email="", channel="sms", consent=CONSENT,
                       active="ja", language="nl", priority="1")
    return rows


def phone_e164(i: int) -> str:
    """The E.164 number bench_registry gives contact number `i`."""
    return f"+3162{i:07d}"


# --- channels --------------------------------------------------------------------------------


@dataclass
class CountingNotifier:
    """A channel that accepts everything and records the wall time at which `send` was called."""

    channel: str
    calls: list[tuple[str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> SendResult:
        """Record (reference, time.time()) and accept."""
        stamp = time.time()
        with self._lock:
            self.calls.append((message.reference, stamp))
        return SendResult(Outcome.ACCEPTED, provider_id=f"bench-{message.reference}")


# --- a fake Twilio in its own process ---------------------------------------------------------


def _serve_fake(conn: Any) -> None:
    from tests.smoke.fake_twilio import FakeTwilio
    from tests.smoke.twilio_spec import load_twilio_spec

    fake = FakeTwilio(load_twilio_spec()).start()
    conn.send(fake.environment())
    while True:
        command = conn.recv()
        if command == "stop":
            fake.stop()
            conn.send(None)
            return
        if command == "reset":
            fake.reset()
            conn.send(None)
        elif command == "stamps":
            conn.send([(m.to, m.date_created.timestamp()) for m in fake.messages])
        elif command == "problems":
            conn.send((len(fake.invalid_requests), len(fake.internal_errors)))


class FakeTwilioProcess:
    """The smoke tests' FakeTwilio served from a child process, so that its request checking
    does not share the benchmarked process's interpreter lock."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fake, args=(child,), daemon=True)
        self._process.start()
        self.environment: dict[str, str] = self._conn.recv()

    @property
    def url(self) -> str:
        """The base URL to give as TWILIO_API_BASE_URL."""
        return self.environment["TWILIO_API_BASE_URL"]

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def reset(self) -> None:
        """Forget the messages taken so far."""
        self._ask("reset")

    def stamps(self) -> list[tuple[str, float]]:
        """(To, wall time of creation) of every message the fake took."""
        return self._ask("stamps")

    def problems(self) -> tuple[int, int]:
        """(requests that broke Twilio's description, fake-internal errors)."""
        return self._ask("problems")

    def wait_for(self, count: int, timeout: float) -> list[tuple[str, float]]:
        """Poll until at least `count` messages were taken or the timeout passes."""
        deadline = time.monotonic() + timeout
        while True:
            stamps = self.stamps()
            if len(stamps) >= count or time.monotonic() > deadline:
                return stamps
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and its process."""
        try:
            self._ask("stop")
        finally:
            self._process.join(timeout=10)

    def __enter__(self) -> FakeTwilioProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def twilio_settings(fake: FakeTwilioProcess, concurrency: int) -> dict[str, Any]:
    """Settings that send SMS through the fake with this send concurrency."""
    env = fake.environment
    return {
        "twilio_account_sid": env["TWILIO_ACCOUNT_SID"],
        "twilio_auth_token": env["TWILIO_AUTH_TOKEN"],
        "twilio_messaging_service_sid": env["TWILIO_MESSAGING_SERVICE_SID"],
        "twilio_api_base_url": env["TWILIO_API_BASE_URL"],
        "send_concurrency": concurrency,
    }


# --- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), linear between closest ranks; nan when empty."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    """The median; nan when empty."""
    return statistics.median(values) if values else float("nan")


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print rows under headers, columns aligned; floats with two decimals."""
    shown = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in shown)) if shown else len(h)
              for i, h in enumerate(headers)]
    print("  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in shown:
        print("  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def utc_now() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)
