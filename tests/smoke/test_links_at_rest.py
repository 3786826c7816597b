"""Secrets at rest: the database holds no usable link, the providers get working ones, and
the database files are readable by their owner only (the console channel's: see
tests/unit/test_notifiers_console.py).

The "leak" is the database files themselves (the SQLite file and its WAL), read as bytes:
every string in them that could be a link token is tried on the running server.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.wiring import AppContext
from playbook.sms import sms_info

from .conftest import ExpectedSends
from .fake_twilio import FakeTwilio
from .server import (
    AppServer,
    Scenario,
    import_fixture_registry,
    link_tokens,
    messages,
    serve_app,
    smtp_settings,
    start_scenario,
    twilio_settings,
)
from .smtp_server import SmtpServer

TOKEN_SHAPE = re.compile(rb"[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{11}")
LINK_PATH = re.compile(rb"/[ai]/([A-Za-z0-9_.~-]{1,100})")


@pytest.fixture
def scenario(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, fake_twilio: FakeTwilio,
             smtp_server: SmtpServer, expected_sends: ExpectedSends) -> Iterator[Scenario]:
    """The attack declared on SQLite, its messages sent to the fake Twilio and SMTP server."""
    import_fixture_registry(sqlite_engine, clock)
    settings = {**twilio_settings(fake_twilio), **smtp_settings(smtp_server)}
    with serve_app(sqlite_engine, clock, tmp_path, **settings) as app:
        yield start_scenario(app, expected_sends)


def database_files(ctx: AppContext) -> list[Path]:
    """The SQLite database file and its WAL and shared-memory files."""
    path = Path(ctx.engine.url.database or "")
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def leaked_candidates(ctx: AppContext) -> set[str]:
    """Everything in the database files that could be a link token."""
    found: set[str] = set()
    for path in database_files(ctx):
        data = path.read_bytes()
        found |= {m.decode() for m in TOKEN_SHAPE.findall(data)}
        found |= {m.decode() for m in LINK_PATH.findall(data)}
    return found


def received_tokens(fake: FakeTwilio, smtp: SmtpServer) -> list[str]:
    """The link tokens in what the providers were handed (SMS bodies, mail text and HTML)."""
    texts = [m.body or "" for m in fake.messages]
    for mail in smtp.messages:
        texts += [part.get_content() for part in mail.message.walk()
                  if part.get_content_maintype() == "text"]
    return [t for text in texts for kind in ("a", "i") for t in link_tokens(text, kind)]


def status(app: AppServer, kind: str, token: str) -> int:
    """What opening a link answers, a second after the last (below any rate limit)."""
    app.ctx.clock.advance(timedelta(seconds=1))
    return app.client.get(f"/{kind}/{token}").status_code


def test_a_database_leak_holds_no_usable_link(scenario: Scenario, fake_twilio: FakeTwilio,
                                              smtp_server: SmtpServer) -> None:
    app: AppServer = scenario.app
    leaked = leaked_candidates(scenario.ctx)
    stored_links = [t for m in messages(scenario.ctx) for k in ("a", "i")
                    for t in link_tokens(m.body + (m.html or ""), k)]
    assert len(stored_links) >= 3 and set(stored_links) <= leaked, "the leak holds the bodies"
    usable = [t for t in sorted(leaked) for kind in ("a", "i") if status(app, kind, t) != 410]
    assert usable == [], "a string of the database opens a link"
    sent = received_tokens(fake_twilio, smtp_server)
    assert len(set(sent)) == 3, "Ahmed's and Bora's intake links, Dirk's ack link"
    assert not set(sent) & leaked, "a token the providers got is in the database"
    for token in set(sent):
        statuses = {status(app, kind, token) for kind in ("a", "i")}
        assert statuses == {200, 410}, "the link the provider got opens (on its own path)"


def test_sms_segment_counts_are_those_of_the_stored_bodies(scenario: Scenario,
                                                           fake_twilio: FakeTwilio) -> None:
    sent = {m.to: m.body or "" for m in fake_twilio.messages}
    stored = [m for m in messages(scenario.ctx) if m.channel == "sms"]
    assert len(stored) == 2
    for m in stored:
        assert sent[m.address] != m.body, "the provider gets the real link"
        assert len(sent[m.address]) == len(m.body)
        assert sms_info(sent[m.address]) == sms_info(m.body)


def test_the_database_files_are_private(scenario: Scenario) -> None:
    files = database_files(scenario.ctx)
    assert len(files) == 3
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
        f.name: 0o600 for f in files}
