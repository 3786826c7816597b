"""The real web application served by uvicorn in a thread on 127.0.0.1, for smoke tests.

The socket is bound before the application is built, so that VERBINDER_PUBLIC_URL (from which
links and webhook signatures are made) is the server's own address.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.web.app import create_app
from engine.web.server import server_config
from engine.wiring import INBOUND_PATH, STATUS_PATH, AppContext
from tests.integration.conftest import make_ctx


@dataclass
class AppServer:
    """A running application: its context, its address and an HTTP client on it."""

    ctx: AppContext
    url: str
    client: httpx.Client

    @property
    def status_url(self) -> str:
        """Where Twilio posts delivery statuses."""
        return self.url + STATUS_PATH

    @property
    def inbound_url(self) -> str:
        """Where Twilio posts inbound SMS."""
        return self.url + INBOUND_PATH


def twilio_settings(fake: Any, *, secondary: str | None = None) -> dict[str, Any]:
    """The settings that send SMS through a FakeTwilio and verify its webhooks."""
    env = fake.environment()
    return {
        "twilio_account_sid": env["TWILIO_ACCOUNT_SID"],
        "twilio_auth_token": env["TWILIO_AUTH_TOKEN"],
        "twilio_auth_token_secondary": secondary,
        "twilio_messaging_service_sid": env["TWILIO_MESSAGING_SERVICE_SID"],
        "twilio_api_base_url": env["TWILIO_API_BASE_URL"],
    }


def smtp_settings(server: Any) -> dict[str, Any]:
    """The settings that send email through a test SmtpServer (plain, no AUTH)."""
    return {"smtp_host": server.host, "smtp_port": server.port, "smtp_starttls": False}


@contextmanager
def serve_app(engine: Engine, clock: FakeClock, tmp_path: Path,
              **settings: Any) -> Iterator[AppServer]:
    """Serve create_app(ctx) on a random loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_ctx(engine, clock, tmp_path, public_url=url, **settings)
    server = uvicorn.Server(server_config(create_app(ctx)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        with httpx.Client(base_url=url, timeout=10.0) as client:
            yield AppServer(ctx, url, client)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the web server did not stop")


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.01)


# --- the scenario every web smoke test starts from ----------------------------------------------

AHMED = "+31611111101"  # primary of moskee-a (ar) and of moskee-b: contact a1 / b2
AMAL = "+31611111102"  # backup of moskee-a (nl): a2
BORA = "+31611111103"  # primary of moskee-b (tr): b1
LIAISON = "+31622222201"  # st-liaison
COORD = "+31622222203"  # st-coord
AHMED_EMAIL = "a1@example.org"
AMAL_EMAIL = "a2@example.org"
BORA_EMAIL = "b1@example.org"
COR_EMAIL = "c1@example.org"  # kerk-c, email contact (nl)
DIRK_EMAIL = "d1@example.org"  # buurt-d, email only (nl)


def import_fixture_registry(engine: Engine, clock: FakeClock) -> None:
    """The engine tests' registry: moskee-a/-b (islam), kerk-c (christian), buurt-d."""
    from engine.registry.importer import import_registry
    from tests.integration.conftest import ENGINE_REGISTRY

    import_registry(engine, [ENGINE_REGISTRY], clock=clock)


def declare(ctx: AppContext, target: str = "islam", severity: int = 3) -> int:
    """Declare an attack of the engine playbook on communities tagged `target`; its id."""
    from engine.incidents.flows import declare_incident_flow
    from engine.registry.snapshot import load_snapshot
    from engine.store.db import session_scope
    from playbook.loader import load_playbook
    from playbook.model import IncidentInput
    from tests.integration.conftest import ENGINE_PLAYBOOK

    incident = IncidentInput(type="attack", declared_at=ctx.clock.now(), title="Incident",
                             severity=severity, fields={"target": target})
    with session_scope(ctx.engine) as session:
        row, _ = declare_incident_flow(session, playbook=load_playbook(ENGINE_PLAYBOOK),
                                       incident=incident,
                                       snapshot=load_snapshot(session.connection()),
                                       now=ctx.clock.now())
        assert row.id is not None
        return row.id


def rows(ctx: AppContext, table: Any, *where: Any) -> list[Any]:
    """The rows of a table (optionally filtered), in primary-key order."""
    from sqlmodel import select

    from engine.store.db import session_scope

    with session_scope(ctx.engine) as session:
        keys = list(table.__table__.primary_key.columns)
        return list(session.exec(select(table).where(*where).order_by(*keys)))


def events(ctx: AppContext, kind: str | None = None) -> list[Any]:
    """Events (the timeline rows), optionally of one kind."""
    from engine.store.models import Event

    return rows(ctx, Event, *([Event.kind == kind] if kind else []))


def messages(ctx: AppContext) -> list[Any]:
    """Every message in the outbox, in order."""
    from engine.store.models import Message

    return rows(ctx, Message)


def message_to(ctx: AppContext, address: str, channel: str = "sms") -> Any:
    """The only message to an address on a channel."""
    found = [m for m in messages(ctx) if m.address == address and m.channel == channel]
    assert len(found) == 1, f"{len(found)} messages on {channel}, expected 1"
    return found[0]


def store_state(ctx: AppContext) -> dict[str, list[Any]]:
    """Everything a webhook or a link could change, to compare before and after."""
    from engine.store import models as m

    def dump(table: Any) -> list[dict[str, Any]]:
        return [r.model_dump() for r in rows(ctx, table)]

    return {name: dump(table) for name, table in (
        ("messages", m.Message), ("communities", m.IncidentCommunity),
        ("tasks", m.IncidentTask), ("timers", m.Timer), ("events", m.Event),
        ("optouts", m.OptOut), ("answers", m.IntakeAnswer), ("receipts", m.ProviderReceipt),
        ("tokens", m.IntakeToken),
    )}


def show(ctx: AppContext, incident_id: int) -> dict[str, Any]:
    """What a coordinator sees of the incident (engine.incidents.views.show_incident)."""
    from engine.incidents.views import show_incident
    from engine.store.db import session_scope

    with session_scope(ctx.engine) as session:
        return show_incident(session, incident_id)


def shown_events(ctx: AppContext, incident_id: int, kind: str) -> list[dict[str, Any]]:
    """The timeline entries of one kind as `incident show` gives them (texts put back)."""
    return [e for e in show(ctx, incident_id)["timeline"] if e["kind"] == kind]


def community(doc: dict[str, Any], community_id: str) -> dict[str, Any]:
    """One community of a show_incident document."""
    return next(c for c in doc["communities"] if c["id"] == community_id)


def sent_body(ctx: AppContext, message: Any) -> str:
    """A stored message's body as its channel is handed it: with the real link tokens (the
    outbox keeps them masked)."""
    from engine.links.tokens import reveal

    return reveal(ctx.links.secret, message.body) or ""


def link_tokens(body: str, kind: str) -> list[str]:
    """The tokens of the /a/ (kind "a") or /i/ (kind "i") links in a message body."""
    import re

    return re.findall(rf"https?://[^\s/]+/{kind}/([A-Za-z0-9_\-.~]+)", body)


@dataclass
class Scenario:
    """An islam-targeted attack declared on a served app, after its first worker cycle."""

    app: AppServer
    incident_id: int
    worker: Any

    @property
    def ctx(self) -> AppContext:
        """The application's context."""
        return self.app.ctx

    def cycle(self, **advance: float) -> Any:
        """Move the fake clock (timedelta keywords) and run one worker cycle."""
        from datetime import timedelta

        self.ctx.clock.advance(timedelta(**advance))
        return self.worker.run_cycle()

    def sid(self, address: str) -> str:
        """The provider id of the only SMS to an address."""
        sid = message_to(self.ctx, address).provider_id
        assert sid, "the message has no provider id"
        return sid

    def show(self) -> dict[str, Any]:
        """show_incident of the scenario's incident."""
        return show(self.ctx, self.incident_id)


def declare_scenario(app: AppServer, expected: Any) -> Scenario:
    """Declare the attack and run the first cycle, which sends to Ahmed, Bora and Dirk."""
    from engine.wiring import build_worker

    expected.sms(AHMED, BORA)
    expected.email(DIRK_EMAIL)
    incident_id = declare(app.ctx)
    worker = build_worker(app.ctx, name="smoke-worker")
    worker.run_cycle()
    return Scenario(app, incident_id, worker)


def start_scenario(app: AppServer, expected: Any) -> Scenario:
    """Declare the attack and run the first cycle: SMS to Ahmed and Bora, email to Dirk."""
    scenario = declare_scenario(app, expected)
    assert sorted((m.channel, m.address, m.state) for m in messages(app.ctx)) == [
        ("email", DIRK_EMAIL, "accepted"), ("sms", AHMED, "accepted"), ("sms", BORA, "accepted")]
    return scenario
