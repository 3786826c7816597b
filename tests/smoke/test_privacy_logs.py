"""A whole incident with every process logging at DEBUG: no phone number, email address or
person's name in any log line.

`verbinder serve` (webhooks, links and the worker) runs as a process of its own; every command
(import, declare, ack, withdraw, close, show, purge, audit) is a process too. SMS go through the
fake Twilio server, email through the SMTP server; replies, intake digits, a STOP and a status
callback come back as signed webhooks, an intake answer through the web form. Time is not
waited for: the escalation steps of moskee-a are made due by moving their timer rows.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from engine.store.db import make_engine

from .conftest import ExpectedSends
from .fake_twilio import FakeTwilio
from .server import AHMED, AMAL, BORA, DIRK_EMAIL, LIAISON, link_tokens
from .smtp_server import SmtpServer
from .workers import VERBINDER, execute, scalar, wait_until, worker_env

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "tests" / "fixtures" / "engine_registry"
PLAYBOOK = ROOT / "tests" / "fixtures" / "engine" / "playbook.yaml"
REPLY = "Kunt u mij terugbellen? Groet, Bora Een, 06 11 11 11 03"
NOTE = "Dirk Een gebeld op d1@example.org en 0611111101"
WITHDRAW_NOTE = "Cor Een schreef een brief"


def persons() -> tuple[list[str], list[str], list[str]]:
    """Names, phone numbers (in the notations they were written in and as stored) and email
    addresses of every contact and staff member of the registry."""
    names, phones, emails = [], [], []
    for file in ("contacts.csv", "staff.csv"):
        lines = (REGISTRY / file).read_text().splitlines()
        header = lines[0].split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=True))
            names.append(row["name"])
            if row["phone"]:
                national = row["phone"].replace(" ", "")
                phones += [row["phone"], national, "+31" + national[1:]]
            if row["email"]:
                emails.append(row["email"])
    return names, phones, emails


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Runs `verbinder` commands and `serve` with one environment; every process logs to a
    file of its own."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder, self.logs = env, folder, []
        self.serving: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        """A command; its stdout (its stderr, the log, goes to a file)."""
        log = self.folder / f"{len(self.logs):02d}-{args[0]}-{args[1] if len(args) > 1 else ''}.log"
        self.logs.append(log)
        with log.open("wb") as err:
            done = subprocess.run([str(VERBINDER), *args], env=self.env, cwd=self.folder,
                                  stdout=subprocess.PIPE, stderr=err, timeout=120)
        assert done.returncode == 0, f"{args}: {log.read_text(errors='replace')[-3000:]}"
        return done.stdout.decode()

    def serve(self, port: int) -> None:
        log = self.folder / "serve.log"
        self.logs.append(log)
        with log.open("wb") as err:
            self.serving = subprocess.Popen(
                [str(VERBINDER), "serve", "--port", str(port)], env=self.env, cwd=self.folder,
                stdout=err, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.serving is not None and self.serving.poll() is None:
            self.serving.send_signal(signal.SIGTERM)
            try:
                self.serving.wait(30)
            except subprocess.TimeoutExpired:
                self.serving.kill()
                self.serving.wait(10)


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'verbinder.db'}")
    yield engine
    engine.dispose()


def test_a_whole_incident_logs_no_personal_data(
    tmp_path: Path, store: Engine, fake_twilio: FakeTwilio, smtp_server: SmtpServer,
    expected_sends: ExpectedSends,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = worker_env(fake_twilio, smtp_server, VERBINDER_LOG_LEVEL="DEBUG",
                     VERBINDER_PUBLIC_URL=url, VERBINDER_PLAYBOOK=str(PLAYBOOK),
                     VERBINDER_DATABASE_URL=str(store.url))
    procs = Processes(env, tmp_path)
    db = store
    try:
        procs.run("registry", "import", str(REGISTRY))
        procs.serve(port)
        wait_until(lambda: _healthy(url), what="serve answering")
        expected_sends.sms(AHMED, BORA)
        expected_sends.email(DIRK_EMAIL)
        incident = json.loads(procs.run("incident", "declare", "--type", "attack", "--field",
                                        "target=islam", "--json"))["incident"]["id"]
        wait_until(lambda: scalar(db, "SELECT count(*) FROM message WHERE state = 'accepted'")
                   == 3, what="the first step sent")

        # nobody answers for moskee-a: its backup and its liaison are due now
        expected_sends.sms(AMAL, LIAISON)
        execute(db, "UPDATE timer SET due_at = CURRENT_TIMESTAMP WHERE community_id = "
                    "'moskee-a' AND round = 0 AND notify IN ('backup', 'liaison')")
        wait_until(lambda: scalar(db, "SELECT count(*) FROM message WHERE state = 'accepted'")
                   == 5, what="the backup and the liaison messaged")

        sid = next(m.sid for m in fake_twilio.messages if m.to == AHMED)
        assert fake_twilio.deliver(sid, "delivered") == 204
        inbound = url + "/webhooks/twilio/inbound"
        for sender, body in ((BORA, REPLY), (BORA, "OK"), (AHMED, "1 3"), (AMAL, "STOP")):
            assert fake_twilio.send_inbound(inbound, sender, body) == 200
        (token,) = link_tokens(next(m.body for m in fake_twilio.messages if m.to == AHMED), "i")
        answered = httpx.post(f"{url}/i/{token}", data={"needs": ["security", "aftercare"]})
        assert answered.status_code == 200

        procs.run("incident", "ack", str(incident), "--community", "buurt-d", "--note", NOTE)
        procs.run("registry", "withdraw", "c1", "--note", WITHDRAW_NOTE)
        shown = procs.run("incident", "show", str(incident), "--json")
        assert REPLY in shown and NOTE in shown, "shown to the coordinator, not logged"
        procs.run("incident", "close", str(incident))
        procs.run("registry", "health")
        procs.run("purge", "--dry-run")
        procs.run("audit", "verify")
    finally:
        procs.stop()

    assert scalar(db, "SELECT count(*) FROM intakeanswer") >= 2
    names, phones, emails = persons()
    found = []
    lines = 0
    for log in procs.logs:
        for line in log.read_text(errors="replace").splitlines():
            lines += 1
            leaks = [p for p in names + phones + emails + [REPLY, NOTE, WITHDRAW_NOTE]
                     if p in line]
            if leaks or re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", line):
                found.append(f"{log.name}: {line}")
    assert found == [], "\n".join(found[:20])
    logged = {log.name: log.read_text(errors="replace") for log in procs.logs}
    assert lines > 20
    # the server's worker sends (the declaring process may find everything taken already):
    # the check above read real DEBUG output of the process that handles the personal data
    assert " DEBUG " in logged["serve.log"], "the server did log, at DEBUG"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
