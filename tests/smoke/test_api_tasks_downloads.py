"""Ticking tasks and the downloads of the JSON API over real HTTP: the board's rules per role
(a community's task by those who may act for it, an incident task by coordinators and on
call; the export for coordinators, the call sheet for coordinators and on call), recorded as
the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from engine.accounts.apitokens import create_api_token
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import AuditEntry, Event, IncidentTask, Note
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.engine_support import ENGINE_PLAYBOOK
from tests.smoke.server import AppServer, rows, serve_app

ATTACK = {"type": "attack", "title": "Brand", "severity": 4, "fields": {"target": "islam"}}


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application on the engine tests' playbook with one declared incident (tasks of
    moskee-a, moskee-b, buurt-d and the incident's own `mayor-statement`)."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path, playbook=str(ENGINE_PLAYBOOK)) as served:
        declared = served.client.post("/api/v1/incidents", json=ATTACK,
                                      headers=bearer(served, "coordinator")[0])
        assert declared.status_code == 201, declared.text
        yield served


def bearer(app: AppServer, role: str) -> tuple[dict[str, str], int]:
    """The Authorization header of a new token of this role, and the token's id."""
    with session_scope(app.ctx.engine) as s:
        token_id, token = create_api_token(s, name=role, role=role, created_by="cli",
                                           now=app.ctx.clock.now())
    return {"Authorization": f"Bearer {token}"}, token_id


def refused(answer: httpx.Response, status: int) -> bool:
    """Whether the answer is the API's JSON refusal with this status."""
    return answer.status_code == status and answer.json()["error"]["status"] == status


def _task(app: AppServer, community: str, task: str) -> IncidentTask:
    [row] = rows(app.ctx, IncidentTask, IncidentTask.community_id == community,
                 IncidentTask.task_id == task)
    return row


def test_tick_and_untick_a_community_task_with_a_note(app: AppServer) -> None:
    oncall, token_id = bearer(app, "oncall")
    tick = "/api/v1/incidents/1/tasks/tick"
    body = {"community": "moskee-a", "task": "first-contact", "note": "Gebeld <b>x</b>"}
    assert app.client.post(tick, json=body, headers=oncall).json() == {"changed": True}
    assert app.client.post(tick, json=body, headers=oncall).json() == {"changed": False}
    task = _task(app, "moskee-a", "first-contact")
    assert task.done_at is not None and task.done_by == f"token:{token_id}"
    [done] = rows(app.ctx, Event, Event.kind == "task.done")
    assert (done.actor, done.community_id) == (f"token:{token_id}", "moskee-a")
    assert [n.text for n in rows(app.ctx, Note)] == ["Gebeld <b>x</b>"]
    undone = app.client.post("/api/v1/incidents/1/tasks/untick", headers=oncall,
                             json={"community": "moskee-a", "task": "first-contact"})
    assert undone.json() == {"changed": True}
    assert _task(app, "moskee-a", "first-contact").done_at is None
    board = app.client.get("/api/v1/incidents/1", headers=oncall).json()
    [moskee_a] = [c for c in board["communities"] if c["id"] == "moskee-a"]
    assert {t["id"]: t["done_at"] for t in moskee_a["tasks"]}["first-contact"] is None


def test_an_incident_task_by_coordinators_and_on_call(app: AppServer) -> None:
    coordinator, _ = bearer(app, "coordinator")
    body = {"task": "mayor-statement"}
    assert app.client.post("/api/v1/incidents/1/tasks/tick", json=body,
                           headers=coordinator).json() == {"changed": True}
    assert _task(app, "", "mayor-statement").done_at is not None


@pytest.mark.parametrize(("role", "body"), [
    ("viewer", {"community": "moskee-a", "task": "first-contact"}),
    # a liaison's token stands for no staff member: it may act for no community
    ("liaison", {"community": "moskee-a", "task": "first-contact"}),
    ("liaison", {"task": "mayor-statement"}),
])
def test_ticks_refused_to_those_who_may_not_act(app: AppServer, role: str, body: dict) -> None:
    headers, _ = bearer(app, role)
    assert refused(app.client.post("/api/v1/incidents/1/tasks/tick", json=body,
                                   headers=headers), 403)
    assert rows(app.ctx, IncidentTask, IncidentTask.done_at.is_not(None)) == []  # type: ignore[union-attr]


def test_unknown_tasks_and_bad_notes_are_refused(app: AppServer) -> None:
    coordinator, _ = bearer(app, "coordinator")
    for body, words in (({"community": "moskee-a", "task": "swim"}, "swim"),
                        ({"community": "kerk-c", "task": "first-contact"}, "kerk-c"),
                        ({"community": "moskee-a", "task": "first-contact",
                          "note": "bel\x07"}, "control"),
                        ({"community": "moskee-a", "task": "first-contact",
                          "extra": 1}, "extra")):
        answer = app.client.post("/api/v1/incidents/1/tasks/tick", json=body,
                                 headers=coordinator)
        assert refused(answer, 422) and words in answer.json()["error"]["message"], body
    nowhere = app.client.post("/api/v1/incidents/9/tasks/tick", headers=coordinator,
                              json={"task": "mayor-statement"})
    assert nowhere.status_code in (404, 422) and "9" in nowhere.json()["error"]["message"]
    assert rows(app.ctx, IncidentTask, IncidentTask.done_at.is_not(None)) == []  # type: ignore[union-attr]


def test_the_export_for_coordinators_recorded_as_the_token(app: AppServer) -> None:
    coordinator, token_id = bearer(app, "coordinator")
    answer = app.client.get("/api/v1/incidents/1/export/csv", headers=coordinator)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="incident-1.csv"'
    assert "incident.declared" in answer.text and "+31611" not in answer.text
    report = app.client.get("/api/v1/incidents/1/export/html", params={"lang": "en"},
                            headers=coordinator)
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    exported = rows(app.ctx, Event, Event.kind == "incident.exported")
    assert [(e.actor, e.data["format"], e.data["pii"]) for e in exported] == [
        (f"token:{token_id}", "csv", False), (f"token:{token_id}", "html", False)]
    assert [a.actor for a in rows(app.ctx, AuditEntry, AuditEntry.action == "incident.export")
            ] == [f"token:{token_id}"] * 2
    for role in ("oncall", "liaison", "viewer"):
        headers, _ = bearer(app, role)
        assert refused(app.client.get("/api/v1/incidents/1/export/csv", headers=headers),
                       403), role
    assert refused(app.client.get("/api/v1/incidents/9/export/csv", headers=coordinator), 404)
    assert refused(app.client.get("/api/v1/incidents/1/export/docx", headers=coordinator), 422)
    assert refused(app.client.get("/api/v1/incidents/1/export/csv", params={"pii": "1"},
                                  headers=coordinator), 422)


def test_the_call_sheet_for_coordinators_and_on_call(app: AppServer) -> None:
    oncall, token_id = bearer(app, "oncall")
    sheet = app.client.get("/api/v1/incidents/1/callsheet/html", headers=oncall)
    assert sheet.status_code == 200
    assert sheet.headers["content-disposition"] == 'attachment; filename="callsheet-1.html"'
    assert "Ahmed Een" in sheet.text
    [recorded] = rows(app.ctx, Event, Event.kind == "incident.exported")
    assert recorded.actor == f"token:{token_id}"
    for role in ("liaison", "viewer"):
        headers, _ = bearer(app, role)
        assert refused(app.client.get("/api/v1/incidents/1/callsheet/html", headers=headers),
                       403), role
    assert len(rows(app.ctx, Event, Event.kind == "incident.exported")) == 1
