"""The incident actions of the JSON API over real HTTP: preview changes nothing, declare
stores, ack / take over / close change what the board shows, and each is refused to the roles
that may not use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.accounts.apitokens import create_api_token
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Event, Incident, IncidentCommunity
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.engine_support import ENGINE_PLAYBOOK
from tests.smoke.server import AppServer, rows, serve_app

ATTACK = {"type": "attack", "title": "Brand", "severity": 4, "fields": {"target": "islam"}}


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application on the engine tests' playbook and the dashboard registry."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path, playbook=str(ENGINE_PLAYBOOK)) as served:
        yield served


def bearer(app: AppServer, role: str) -> dict[str, str]:
    """The Authorization header of a new token of this role."""
    with session_scope(app.ctx.engine) as s:
        _, token = create_api_token(s, name=role, role=role, created_by="cli",
                                    now=app.ctx.clock.now())
    return {"Authorization": f"Bearer {token}"}


def test_preview_changes_nothing_and_declare_stores(app: AppServer) -> None:
    coordinator = bearer(app, "coordinator")
    preview = app.client.post("/api/v1/incidents/preview", json=ATTACK, headers=coordinator)
    assert preview.status_code == 200, preview.text
    doc = preview.json()
    assert [c["id"] for c in doc["communities"]] == ["moskee-a", "moskee-b", "buurt-d"]
    assert doc["communities"][0] == {"id": "moskee-a", "name": "Moskee A", "role": "affected",
                                     "escalation": "standard", "contacts": 2,
                                     "channels": ["sms"], "tasks": [
                                         "first-contact", "needs-intake", "aftercare-d1"]}
    assert "Ahmed" not in preview.text  # no contact details in a preview
    assert rows(app.ctx, Incident) == []
    declared = app.client.post("/api/v1/incidents", json=ATTACK, headers=coordinator)
    assert declared.status_code == 201, declared.text
    assert declared.json() == {"incident_id": 1, "communities": 3, "warnings": []}
    [incident] = rows(app.ctx, Incident)
    assert (incident.title, incident.severity) == ("Brand", 4)
    assert [e.actor for e in rows(app.ctx, Event, Event.kind == "incident.declared")] == [
        "token:1"]


def test_refused_input_names_the_field_and_stores_nothing(app: AppServer) -> None:
    coordinator = bearer(app, "coordinator")
    for body, words in (({"type": "flood"}, "unknown incident type 'flood'"),
                        ({"type": "attack"}, "target"),
                        ({"type": "attack", "fields": {"target": "x", "colour": "red"}},
                         "colour")):
        answer = app.client.post("/api/v1/incidents", json=body, headers=coordinator)
        assert answer.status_code == 422 and words in answer.json()["error"]["message"]
    assert rows(app.ctx, Incident) == []


def test_ack_take_over_close_and_the_board(app: AppServer) -> None:
    coordinator = bearer(app, "coordinator")
    app.client.post("/api/v1/incidents", json=ATTACK, headers=coordinator)
    board = app.client.get("/api/v1/incidents/1/board", headers=bearer(app, "viewer")).json()
    assert {c["id"]: c["board_status"] for c in board["communities"]} == {
        "moskee-a": "not_contacted", "moskee-b": "not_contacted", "buurt-d": "not_contacted"}
    ack = app.client.post("/api/v1/incidents/1/ack", headers=coordinator,
                          json={"community": "moskee-a", "note": "gebeld"})
    assert ack.json() == {"changed": ["moskee-a"]}
    again = app.client.post("/api/v1/incidents/1/ack", headers=coordinator,
                            json={"community": "moskee-a"})
    assert again.json() == {"changed": []}
    taken = app.client.post("/api/v1/incidents/1/take-over", headers=bearer(app, "oncall"),
                            json={"community": "moskee-b", "staff": "st-oncall"})
    assert taken.json() == {"changed": ["moskee-b"]}
    unknown = app.client.post("/api/v1/incidents/1/take-over", headers=coordinator,
                              json={"community": "buurt-d", "staff": "nobody"})
    assert unknown.status_code == 422 and "nobody" in unknown.text
    outside = app.client.post("/api/v1/incidents/1/ack", headers=coordinator,
                              json={"community": "kerk-c"})
    assert outside.status_code == 422 and "kerk-c" in outside.text
    board = app.client.get("/api/v1/incidents/1/board", headers=coordinator).json()
    assert {c["id"]: c["board_status"] for c in board["communities"]} == {
        "moskee-a": "acknowledged", "moskee-b": "taken_over", "buurt-d": "not_contacted"}
    assert board["counts"] == {"acknowledged": 1, "taken_over": 1, "not_contacted": 1}
    with session_scope(app.ctx.engine) as s:
        moskee_b = s.get(IncidentCommunity, (1, "moskee-b"))
        assert moskee_b is not None and moskee_b.taken_over_by == "st-oncall"
    assert app.client.post("/api/v1/incidents/1/close", headers=coordinator).json() == {
        "closed": True}
    assert app.client.post("/api/v1/incidents/1/close", headers=coordinator).json() == {
        "closed": False}
    assert app.client.post("/api/v1/incidents/99/close", headers=coordinator).status_code == 404


@pytest.mark.parametrize(("role", "method", "path", "body"), [
    ("viewer", "POST", "/api/v1/incidents", ATTACK),
    ("liaison", "POST", "/api/v1/incidents/preview", ATTACK),
    ("oncall", "POST", "/api/v1/incidents", ATTACK),
    ("viewer", "POST", "/api/v1/incidents/1/ack", {"community": "moskee-a"}),
    ("oncall", "POST", "/api/v1/incidents/1/close", None),
    # a liaison's token stands for no staff member: it may act for no community
    ("liaison", "POST", "/api/v1/incidents/1/ack", {"community": "moskee-a"}),
])
def test_roles_that_may_not_are_refused(app: AppServer, role: str, method: str, path: str,
                                        body: dict | None) -> None:
    app.client.post("/api/v1/incidents", json=ATTACK, headers=bearer(app, "coordinator"))
    answer = app.client.request(method, path, json=body, headers=bearer(app, role))
    assert answer.status_code == 403 and answer.json()["error"]["status"] == 403
    assert len(rows(app.ctx, Incident)) == 1
    assert rows(app.ctx, IncidentCommunity, IncidentCommunity.status != "open") == []


def test_no_token_is_refused_before_the_body_is_read(app: AppServer) -> None:
    answer = app.client.post("/api/v1/incidents", content=b"{not json",
                             headers={"content-type": "application/json"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


def test_a_body_too_large_is_refused_as_json(app: AppServer) -> None:
    answer = app.client.post("/api/v1/incidents", headers=bearer(app, "coordinator"),
                             json={**ATTACK, "title": "x" * 70_000})
    assert answer.status_code == 413 and answer.json()["error"]["status"] == 413
