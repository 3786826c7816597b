"""Engine test support: an AppContext on a fresh store, a fake clock and console channels."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from config.settings import Settings
from engine.clock import FakeClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.wiring import AppContext, build_worker
from engine.worker import Worker
from playbook.loader import load_playbook
from playbook.model import IncidentInput

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENGINE_PLAYBOOK = FIXTURES / "engine" / "playbook.yaml"
ENGINE_REGISTRY = FIXTURES / "engine_registry"


def make_ctx(engine: Engine, clock: FakeClock, tmp_path: Path, **settings: object) -> AppContext:
    """An AppContext on this engine and clock, with console channels writing to tmp_path."""
    base = Settings(database_url=str(engine.url.render_as_string(hide_password=False)),
                    console_dir=str(tmp_path / "outbox"), secret_key="test-secret",
                    public_url="https://verbinder.example.org")
    ctx = AppContext(settings=base.replace(**settings), clock=clock)
    ctx.__dict__["engine"] = engine  # the test's own, already migrated
    return ctx


def sent(tmp_path: Path, channel: str) -> list[dict]:
    """What the console channel recorded as sent on a channel."""
    path = tmp_path / "outbox" / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sent_to(ctx: AppContext, tmp_path: Path, channel: str, address: str) -> list[dict]:
    """What the console channel sent to one address (it shows addresses masked only)."""
    from engine.store.models import Message

    out = []
    with session_scope(ctx.engine) as session:
        for record in sent(tmp_path, channel):
            message = session.get(Message, int(record["reference"].removeprefix("m")))
            if message is not None and message.address == address:
                out.append(record)
    return out


@pytest.fixture
def ctx(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    """An AppContext on SQLite with the engine registry imported."""
    import_registry(sqlite_engine, [ENGINE_REGISTRY], clock=clock)
    return make_ctx(sqlite_engine, clock, tmp_path)


@pytest.fixture
def declare(ctx: AppContext) -> Callable[..., int]:
    """Declare an incident of the engine playbook; returns its id."""

    def _declare(target: str = "islam", severity: int = 3, app: AppContext | None = None) -> int:
        app = app or ctx
        playbook = load_playbook(ENGINE_PLAYBOOK)
        incident = IncidentInput(type="attack", declared_at=app.clock.now(), title="Incident",
                                 severity=severity, fields={"target": target})
        with session_scope(app.engine) as session:
            row, _ = declare_incident_flow(session, playbook=playbook, incident=incident,
                                           snapshot=load_snapshot(session.connection()),
                                           now=app.clock.now())
        return row.id

    return _declare


@pytest.fixture
def worker(ctx: AppContext) -> Worker:
    """A worker on the test's context (cycles are run by the test, not by a scheduler)."""
    return build_worker(ctx, name="test-worker")
