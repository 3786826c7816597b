"""`verbinder demo` plays a whole incident on the embedded defaults."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from sqlmodel import select

from config.settings import Settings
from engine.cli.run import ConsoleDemoOutput
from engine.demo import run_demo
from engine.store.db import make_engine, session_scope
from engine.store.models import Event, Incident, IncidentCommunity
from engine.wiring import AppContext


def test_demo_plays_an_incident_from_declaration_to_close(tmp_path: Path) -> None:
    out = io.StringIO()
    incident_id = run_demo(AppContext(settings=Settings()), tmp_path,
                           ConsoleDemoOutput(Console(file=out, width=120)))
    text = out.getvalue()
    assert "Incident om 02:57" in text and "gesloten/closed" in text
    # peace time before the night: the sample's half year of contacts, and afterwards the
    # open agreements with the communities the incident touched
    assert "Vredestijd/peace time: 113 contactmomenten/contacts" in text
    assert "Crisisklaar/crisis-ready: " in text and "Wekelijkse digest/weekly digest: " in text
    assert "afspraak/agreement moskee-annour: " in text
    sent = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert sent and all(r["marker"] == "CONSOLE CHANNEL — not sent" for r in sent)
    engine = make_engine(f"sqlite:///{tmp_path / 'verbinder-demo.db'}")
    with session_scope(engine) as session:
        incident = session.get(Incident, incident_id)
        assert incident.status == "closed" and incident.exercise
        reached = session.exec(select(IncidentCommunity).where(
            IncidentCommunity.status == "acknowledged")).all()
        assert {r.acknowledged_by.split(":")[0] for r in reached} == {"contact", "staff"}
        kinds = {e.kind for e in session.exec(select(Event))}
    assert {"incident.declared", "timer.fired", "message.accepted", "community.acknowledged",
            "intake.answered", "optout.stop", "incident.closed"} <= kinds
    engine.dispose()


def test_demo_runs_twice_in_the_same_folder(tmp_path: Path) -> None:
    for _ in range(2):
        assert run_demo(AppContext(settings=Settings()), tmp_path,
                        ConsoleDemoOutput(Console(file=io.StringIO()))) == 1
