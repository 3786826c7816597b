"""A template that fails on one community's data (a budget, a bug) costs that one message only:
the rest of the batch is sent, the failure is on the timeline, and the cycle does not loop."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.incidents.flows import declare_incident_flow
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.store.models import Event, Message
from engine.wiring import AppContext, build_worker
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK

# Renders on made-up names (the probe of `playbook check` passes); blows the template budget
# for the one community called "Moskee B".
BOMB = ("{% if community.name == 'Moskee B' %}{{ community.name * 1000000 }}{% endif %}"
        "Gemeente {{ municipality }}: {{ incident.title }}. Antwoord OK.")


def _playbook(tmp_path: Path) -> Path:
    text = ENGINE_PLAYBOOK.read_text(encoding="utf-8")
    old = ('nl: "Gemeente {{ municipality }}: {{ incident.title }}. Wij willen u graag spreken. '
           'Antwoord OK als u dit leest."')
    assert old in text
    path = tmp_path / "playbook.yaml"
    path.write_text(text.replace(old, f'nl: "{BOMB}"'), encoding="utf-8")
    return path


def test_one_unrenderable_message_leaves_the_rest_of_the_batch(ctx: AppContext,
                                                               tmp_path: Path) -> None:
    playbook = load_playbook(_playbook(tmp_path))
    incident = IncidentInput(type="attack", declared_at=ctx.clock.now(), title="Incident",
                             severity=3, fields={"target": "islam"})
    with session_scope(ctx.engine) as session:
        row, doc = declare_incident_flow(session, playbook=playbook, incident=incident,
                                         snapshot=load_snapshot(session.connection()),
                                         now=ctx.clock.now())
    assert {c["id"] for c in doc["communities"]} >= {"moskee-a", "moskee-b"}
    result = build_worker(ctx, name="test").run_cycle()
    assert result.fired > 0
    with session_scope(ctx.engine) as session:
        messages = session.exec(sa.select(Message.community_ids)
                                .where(Message.incident_id == row.id)).scalars().all()
        failures = session.exec(sa.select(Event).where(
            Event.kind == "message.unrenderable")).scalars().all()
    named = {c for ids in messages for c in ids}
    assert "moskee-a" in named  # the others in the batch got theirs
    assert failures and all("moskee-b" in e.data["communities"] for e in failures)
    assert all(e.data["error"].startswith(("BudgetExceeded", "SecurityError")) for e in failures)
    # nothing is left due: the next cycle does not trip over the same template again
    assert build_worker(ctx, name="test").run_cycle().fired == 0
