"""`verbinder incident declare` sends its first wave from its own process while workers run.

Real processes on one PostgreSQL: `verbinder worker` (heartbeat 1 s) and `verbinder incident
declare`, against a provider that takes its time per send. A running worker's recovery must not
take back the claims of the declaring process while it sends: every contact is messaged once and
no message ends `ambiguous` ("unknown").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bench.generate import Rows, generate_registry, write_registry

from .fake_twilio import FakeTwilio
from .smtp_server import SmtpServer
from .workers import (
    WorkerProcesses,
    import_folder,
    rows,
    scalar,
    wait_until,
    worker_env,
    worker_processes,
)

pytestmark = pytest.mark.postgres

PLAYBOOK = (Path(__file__).resolve().parent.parent / "fixtures" / "declare_next_to_workers"
            / "playbook.yaml")
COMMUNITIES = 300
MATCHED = 130  # the communities tagged `target`: what the declaration matches
SEND_SECONDS = 0.25  # what the provider takes per message


def registry(channel: str) -> Rows:
    """300 communities with one active contact each, on `channel`; the first 130 tagged
    `target`."""
    rows = generate_registry(COMMUNITIES, 1, seed=10)
    for n, contact in enumerate(rows["contacts"]):
        contact.update(phone=f"+3165{n:07d}", email=f"contact{n}@example.org", channel=channel,
                       active="ja", consent="2026-01-01")
    for n, community in enumerate(rows["communities"]):
        community["tags"] = "target" if n < MATCHED else "residents"
    return rows


def store_with(engine: Engine, folder: Path, channel: str) -> list[str]:
    """Import the registry; the addresses the declaration must reach, once each."""
    rows_ = registry(channel)
    write_registry(folder, rows_)
    import_folder(engine, folder)
    key = "phone" if channel == "sms" else "email"
    matched = {c["id"] for c in rows_["communities"][:MATCHED]}
    return [c[key] for c in rows_["contacts"] if c["community"] in matched]


def declare(workers: WorkerProcesses, engine: Engine) -> int:
    """Run `verbinder incident declare` as its own process (it sends the first wave)."""
    done = workers.cli("incident", "declare", "--type", "drill", "--title", "Oefening")
    assert done.returncode == 0, done.stderr[-4000:]
    return scalar(engine, "SELECT max(id) FROM incident")


def outcome(engine: Engine, incident_id: int) -> Counter[str]:
    """Messages of the incident per state."""
    return Counter(s for s, in rows(engine, "SELECT state FROM message WHERE incident_id = :i",
                                    i=incident_id))


def settled(engine: Engine, incident_id: int) -> bool:
    """Whether every message of the incident has left the outbox's open states."""
    states = outcome(engine, incident_id)
    return sum(states.values()) == MATCHED and not (
        states["pending"] or states["claimed"] or states["sending"])


@pytest.fixture
def sms_workers(pg_url: str, fake_twilio: FakeTwilio,
                tmp_path: Path) -> Iterator[WorkerProcesses]:
    """Worker processes and commands on the test's database, sending SMS to the fake."""
    fake_twilio.delay = SEND_SECONDS
    env = worker_env(fake_twilio, VERBINDER_WORKER_HEARTBEAT_SECONDS="1")
    yield from worker_processes(pg_url, PLAYBOOK, env, tmp_path)


def test_a_declaration_next_to_a_running_worker_messages_everyone_once(
    pg_engine, sms_workers, fake_twilio, expected_sends, tmp_path
):
    phones = store_with(pg_engine, tmp_path / "registry", "sms")
    assert len(phones) == MATCHED
    expected_sends.sms(*phones)
    sms_workers.start()
    wait_until(lambda: "running" in sms_workers.log(0), timeout=30, what="the worker to start",
               check=sms_workers.check_alive)

    incident_id = declare(sms_workers, pg_engine)

    wait_until(lambda: settled(pg_engine, incident_id), timeout=60,
               what="every message to be sent", check=sms_workers.check_alive)
    states = outcome(pg_engine, incident_id)
    assert states == Counter({"accepted": MATCHED}), f"not all sent once: {dict(states)}"
    assert Counter(fake_twilio.recipients()) == Counter(phones)
    taken_back = scalar(pg_engine, "SELECT count(*) FROM event WHERE actor = 'recovery'")
    assert taken_back == 0, "a living process's claims were taken back"


@pytest.fixture
def email_workers(pg_url: str, fake_twilio: FakeTwilio, smtp_server: SmtpServer,
                  tmp_path: Path) -> Iterator[WorkerProcesses]:
    """Worker processes and commands on the test's database, sending email to aiosmtpd."""
    smtp_server.hold_data(SEND_SECONDS)
    env = worker_env(fake_twilio, smtp_server, VERBINDER_WORKER_HEARTBEAT_SECONDS="1")
    yield from worker_processes(pg_url, PLAYBOOK, env, tmp_path)


def test_a_declaration_next_to_two_workers_emails_everyone_once(
    pg_engine, email_workers, smtp_server, expected_sends, tmp_path
):
    addresses = store_with(pg_engine, tmp_path / "registry", "email")
    expected_sends.email(*addresses)
    for n in range(2):
        email_workers.start()
        wait_until(lambda n=n: "running" in email_workers.log(n), timeout=30,
                   what="the workers to start", check=email_workers.check_alive)

    incident_id = declare(email_workers, pg_engine)

    wait_until(lambda: settled(pg_engine, incident_id), timeout=60,
               what="every message to be sent", check=email_workers.check_alive)
    states = outcome(pg_engine, incident_id)
    assert states == Counter({"accepted": MATCHED}), f"not all sent once: {dict(states)}"
    assert Counter(a.lower() for a in smtp_server.recipients()) == Counter(addresses)
    taken_back = scalar(pg_engine, "SELECT count(*) FROM event WHERE actor = 'recovery'")
    assert taken_back == 0, "a living process's claims were taken back"
