"""A long declaration holds up no page and no webhook of the running web server.

A declaration's write transaction is held open (by events, not for a measured time) in a
thread of the server's own process and engine, or on an engine of its own (as another
process's would be). Meanwhile acknowledgement and intake pages are opened, and an intake
answer, an acknowledgement and both webhooks are posted to the real uvicorn server:

- On PostgreSQL nothing waits: every request is answered while the declaration is open.
- On SQLite one transaction writes at a time, so the four writes wait for the declaration;
  they wait in store threads, and the pages (read-only transactions, no write lock) and the
  health check are answered while they wait. When the declaration commits, the writes go on.

A request that hangs fails the test through the HTTP client's timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.snapshot import load_snapshot
from engine.store.db import READ_ONLY, make_engine, session_scope
from engine.store.models import Incident
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.integration.conftest import ENGINE_PLAYBOOK

from .conftest import ExpectedSends
from .fake_twilio import FakeTwilio
from .server import (
    AHMED,
    BORA,
    DIRK_EMAIL,
    AppServer,
    Scenario,
    community,
    import_fixture_registry,
    link_tokens,
    message_to,
    rows,
    sent_body,
    serve_app,
    smtp_settings,
    start_scenario,
    twilio_settings,
)
from .smtp_server import SmtpServer

WRITES = 4  # the intake answer, the acknowledgement, the status callback, the inbound SMS


@pytest.fixture(params=["sqlite, same engine", "sqlite, another engine", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock,
          fake_twilio: FakeTwilio, smtp_server: SmtpServer,
          expected_sends: ExpectedSends) -> Iterator[tuple[Scenario, Engine, bool]]:
    """The served scenario, the engine the declaration holds its transaction on, and whether
    writes wait for it (SQLite)."""
    sqlite = request.param.startswith("sqlite")
    engine: Engine = request.getfixturevalue("sqlite_engine" if sqlite else "pg_engine")
    import_fixture_registry(engine, clock)
    holder = engine if request.param == "sqlite, same engine" else make_engine(
        engine.url.render_as_string(hide_password=False))
    settings = {**twilio_settings(fake_twilio), **smtp_settings(smtp_server)}
    try:
        with serve_app(engine, clock, tmp_path, **settings) as app:
            yield start_scenario(app, expected_sends), holder, sqlite
    finally:
        if holder is not engine:
            holder.dispose()


@contextmanager
def declaration_held(engine: Engine, clock: FakeClock) -> Iterator[None]:
    """A declaration whose transaction has written and stays open until the block ends."""
    held, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []
    incident = IncidentInput(type="attack", declared_at=clock.now(), title="Lang / long",
                             severity=3, fields={"target": "christian"})

    def declare() -> None:
        try:
            with session_scope(engine) as session:
                declare_incident_flow(session, playbook=load_playbook(ENGINE_PLAYBOOK),
                                      incident=incident,
                                      snapshot=load_snapshot(session.connection()),
                                      now=clock.now())
                session.flush()
                held.set()
                release.wait(60)
        except BaseException as exc:  # reported by the test
            failed.append(exc)
            held.set()

    thread = threading.Thread(target=declare, name="long-declaration")
    thread.start()
    assert held.wait(60)
    try:
        assert not failed, failed
        yield
    finally:
        release.set()
        thread.join(60)
    assert not failed, failed


class Writers:
    """Requests that write, each posted from a thread of its own; counts those that reached
    the store (took a connection for a writing transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.results: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []
        self._arrived = 0
        self._changed = threading.Condition()

    def watch(self) -> None:
        """Count the connections for writing that the server's engine hands out (each
        transaction takes one, before it begins and waits for its turn at the lock)."""
        sa.event.listen(self.engine, "engine_connect", self._connected)

    def unwatch(self) -> None:
        """Stop counting."""
        sa.event.remove(self.engine, "engine_connect", self._connected)

    def _connected(self, conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            with self._changed:
                self._arrived += 1
                self._changed.notify_all()

    def post(self, name: str, send: Callable[[], Any]) -> None:
        """Send one request from a new thread; its result goes under `name`."""
        def run() -> None:
            try:
                self.results[name] = send()
            except BaseException as exc:  # reported by the test
                self.results[name] = exc

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()

    def wait_arrived(self, count: int) -> None:
        """Wait until `count` writes have reached the store."""
        with self._changed:
            assert self._changed.wait_for(lambda: self._arrived >= count, timeout=30), (
                f"{self._arrived} of {count} writes reached the store")

    def join(self) -> dict[str, Any]:
        """Wait for every request to be answered; their results."""
        for thread in self.threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self.threads), "a request was never answered"
        return self.results

    @property
    def answered(self) -> list[str]:
        """The requests answered so far."""
        return sorted(self.results)


def post_form(url: str, path: str, data: dict[str, Any]) -> int:
    """POST a form as a browser does, on a client of its own; the status."""
    with httpx.Client(base_url=url, timeout=60.0) as client:
        return client.post(path, data=data).status_code


def test_a_long_declaration_stalls_no_page_and_no_webhook(
        setup: tuple[Scenario, Engine, bool], fake_twilio: FakeTwilio) -> None:
    scenario, holder, writes_wait = setup
    app, ctx = scenario.app, scenario.ctx
    (ack,) = link_tokens(sent_body(ctx, message_to(ctx, DIRK_EMAIL, "email")), "a")
    (intake,) = link_tokens(sent_body(ctx, message_to(ctx, BORA)), "i")
    sid = scenario.sid(AHMED)
    writers = Writers(ctx.engine)
    try:
        with declaration_held(holder, ctx.clock):
            writers.watch()  # from now on: the declaration is not counted
            assert_pages_answer(app, ack, intake)
            writers.post("intake", lambda: post_form(app.url, f"/i/{intake}",
                                                     {"needs": "security"}))
            writers.post("ack", lambda: post_form(app.url, f"/a/{ack}", {}))
            writers.post("status", lambda: fake_twilio.deliver(sid, "delivered"))
            writers.post("inbound", lambda: fake_twilio.send_inbound(app.inbound_url, AHMED,
                                                                     "OK"))
            writers.wait_arrived(WRITES)
            if writes_wait:
                assert_pages_answer(app, ack, intake)  # while four writers wait for the lock
                assert writers.answered == [], "a write went past the declaration's lock"
            else:
                assert writers.join() == {"intake": 200, "ack": 200, "status": 204,
                                          "inbound": 200}
                assert_pages_answer(app, ack, intake)
        results = writers.join()
    finally:
        writers.unwatch()
    assert results == {"intake": 200, "ack": 200, "status": 204, "inbound": 200}
    doc = scenario.show()
    assert community(doc, "moskee-b")["intake"][0]["answers"] == {"needs": ["security"]}
    assert community(doc, "buurt-d")["acknowledged_by"] == "contact:d1"
    assert community(doc, "moskee-a")["acknowledged_by"] == "contact:a1"
    assert message_to(ctx, AHMED).state == "delivered"
    assert len(rows(ctx, Incident)) == 2, "the held declaration was committed too"


def assert_pages_answer(app: AppServer, ack: str, intake: str) -> None:
    """The pages that only read are answered (the client's timeout catches a hang)."""
    assert app.client.get(f"/a/{ack}").status_code == 200
    page = app.client.get(f"/i/{intake}")
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert app.client.get("/healthz").status_code == 200
