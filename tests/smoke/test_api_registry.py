"""The registry, peace-time and roster endpoints of the JSON API over real HTTP: the same
rules as the pages per role (a token stands for no staff member, so a liaison's token opens
no community), contact reads recorded as the token, writes as the token, refusals as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.accounts.apitokens import create_api_token
from engine.clock import FakeClock
from engine.errors import InputError
from engine.oncall.service import import_roster
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Agreement, AuditEntry, ContactLog, Event
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.smoke.server import AppServer, rows, serve_app

MARKUP = '<script>alert(1)</script>'


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application with the dashboard registry (moskee-a and buurt-d: st-liaison's,
    moskee-b: st-liaison2's, kerk-c: nobody's) and a roster (st-oncall on call now)."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    roster = tmp_path / "oncall.csv"
    roster.write_text("staff,start,end\nst-oncall,2026-03-01 08:00,2026-03-02 08:00\n"
                      "st-oncall,2026-03-02 12:00,2026-03-03 08:00\n")
    import_roster(engine=sqlite_engine, paths=[roster])
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        yield served


def bearer(app: AppServer, role: str, staff: str | None = None) -> tuple[dict[str, str], int]:
    """The Authorization header of a new token of this role (standing for a staff member when
    given), and the token's id."""
    with session_scope(app.ctx.engine) as s:
        token_id, token = create_api_token(s, name=role, role=role, created_by="cli",
                                           now=app.ctx.clock.now(), staff_id=staff)
    return {"Authorization": f"Bearer {token}"}, token_id


def refused(answer: object, status: int) -> bool:
    """Whether the answer is the API's JSON refusal with this status."""
    import httpx
    assert isinstance(answer, httpx.Response)
    return answer.status_code == status and answer.json()["error"]["status"] == status


def test_search_and_profile_show_no_contact_details(app: AppServer) -> None:
    coordinator, _ = bearer(app, "coordinator")
    everything = app.client.get("/api/v1/registry", headers=coordinator).json()
    assert everything["total"] == 4
    assert [c["id"] for c in everything["communities"]] == [
        "buurt-d", "kerk-c", "moskee-a", "moskee-b"]
    islam = app.client.get("/api/v1/registry", params={"q": "ISLAM", "limit": 1},
                           headers=coordinator).json()
    assert islam["total"] == 2 and len(islam["communities"]) == 1
    profile = app.client.get("/api/v1/registry/moskee-b", headers=coordinator)
    assert profile.status_code == 200
    doc = profile.json()
    assert (doc["name"], doc["liaison"], doc["liaison_name"], doc["contacts"]) == (
        "Moskee B", "st-liaison2", "Lia Twee", 2)
    for detail in ("Bora", "06 11", "+31611", "example.org"):
        assert detail not in profile.text
    assert rows(app.ctx, Event, Event.kind == "contact.viewed") == []
    oncall, _ = bearer(app, "oncall")
    assert app.client.get("/api/v1/registry/kerk-c", headers=oncall).status_code == 200
    assert refused(app.client.get("/api/v1/registry/nowhere", headers=coordinator), 404)
    assert refused(app.client.get("/api/v1/registry", params={"qq": "x"},
                                  headers=coordinator), 422)


def test_the_registry_by_role(app: AppServer) -> None:
    viewer, _ = bearer(app, "viewer")
    liaison, _ = bearer(app, "liaison")
    for path in ("/api/v1/registry", "/api/v1/registry/moskee-a",
                 "/api/v1/registry/moskee-a/contacts"):
        assert refused(app.client.get(path, headers=viewer), 403)
    # a liaison's token made for no staff member finds and opens no community
    assert app.client.get("/api/v1/registry", headers=liaison).json()["communities"] == []
    assert refused(app.client.get("/api/v1/registry/moskee-a", headers=liaison), 403)
    assert refused(app.client.get("/api/v1/registry/moskee-a/contacts", headers=liaison), 403)
    assert rows(app.ctx, Event, Event.kind == "contact.viewed") == []


def test_a_liaison_s_token_sees_the_communities_of_its_staff_member(app: AppServer) -> None:
    mine, token_id = bearer(app, "liaison", staff="st-liaison")
    found = app.client.get("/api/v1/registry", headers=mine).json()["communities"]
    assert {c["id"] for c in found} == {"moskee-a", "buurt-d"}
    assert app.client.get("/api/v1/registry/moskee-a", headers=mine).status_code == 200
    assert refused(app.client.get("/api/v1/registry/moskee-b", headers=mine), 403)
    assert refused(app.client.get("/api/v1/registry/moskee-b/contacts", headers=mine), 403)
    contacts = app.client.get("/api/v1/registry/moskee-a/contacts", headers=mine)
    assert contacts.status_code == 200
    [seen] = rows(app.ctx, Event, Event.kind == "contact.viewed")
    assert (seen.actor, seen.community_id) == (f"token:{token_id}", "moskee-a")
    due = app.client.get("/api/v1/peacetime/due", headers=mine)
    assert due.status_code == 200
    groups = due.json()["liaisons"]
    assert {g["liaison"] for g in groups} <= {"st-liaison"}


def test_a_token_for_an_unknown_staff_member_is_refused(app: AppServer) -> None:
    with session_scope(app.ctx.engine) as s, pytest.raises(InputError) as refused_:
        create_api_token(s, name="x", role="liaison", created_by="cli",
                         now=app.ctx.clock.now(), staff_id="st-nobody")
    assert "--staff: 'st-nobody' is not a staff member" in str(refused_.value)


def test_reading_contacts_is_recorded_as_the_token(app: AppServer) -> None:
    oncall, token_id = bearer(app, "oncall")
    answer = app.client.get("/api/v1/registry/moskee-a/contacts", headers=oncall)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    doc = answer.json()
    assert doc["community"] == "moskee-a"
    assert [(c["id"], c["name"], c["phone"]) for c in doc["contacts"]] == [
        ("a1", "Ahmed Een", "+31611111101"), ("a2", "Amal Twee", "+31611111102")]
    [seen] = rows(app.ctx, Event, Event.kind == "contact.viewed")
    assert (seen.actor, seen.community_id, seen.data["contacts"], seen.data["source"]) == (
        f"token:{token_id}", "moskee-a", ["a1", "a2"], "api:registry")
    [audit] = rows(app.ctx, AuditEntry, AuditEntry.action == "contact.view")
    assert (audit.actor, audit.object) == (f"token:{token_id}", "community:moskee-a")


def test_the_due_list_for_keepers_only(app: AppServer) -> None:
    coordinator, _ = bearer(app, "coordinator")
    due = app.client.get("/api/v1/peacetime/due", headers=coordinator)
    assert due.status_code == 200
    found = {c["community"] for group in due.json()["liaisons"] for c in group["communities"]}
    assert {"moskee-a", "moskee-b"} <= found
    for role in ("oncall", "viewer", "liaison"):  # a liaison's token has no communities
        headers, _ = bearer(app, role)
        assert refused(app.client.get("/api/v1/peacetime/due", headers=headers), 403), role


def test_logging_a_contact_as_the_token(app: AppServer) -> None:
    coordinator, token_id = bearer(app, "coordinator")
    body = {"communities": ["moskee-a"], "kind": "meeting", "by": "st-liaison",
            "with": ["a2"], "at": "2026-03-01T08:30:00+01:00", "place": "Buurthuis",
            "neutral_ground": True, "note": "Zorgen over de bouw " + MARKUP}
    answer = app.client.post("/api/v1/peacetime/contacts", json=body, headers=coordinator)
    assert answer.status_code == 201, answer.text
    doc = answer.json()
    assert (doc["at"], doc["by"], doc["communities"], doc["with"], doc["neutral_ground"]) == (
        "2026-03-01T07:30:00Z", "st-liaison", ["moskee-a"], ["a2"], True)
    [entry] = rows(app.ctx, ContactLog)
    assert entry.staff_id == "st-liaison"
    [event] = rows(app.ctx, Event, Event.kind == "peacetime.contact")
    assert event.actor == "staff:st-liaison"  # who met them; the audit row says who wrote it
    [audit] = rows(app.ctx, AuditEntry, AuditEntry.action == "contact.log")
    assert audit.actor == f"token:{token_id}"
    for wrong, words in (({"by": None}, "by"), ({"kind": "letter"}, "letter"),
                         ({"at": "2026-03-01T08:30"}, "offset"),
                         ({"communities": ["nowhere"]}, "nowhere")):
        again = app.client.post("/api/v1/peacetime/contacts", json={**body, **wrong},
                                headers=coordinator)
        assert refused(again, 422) and words in again.json()["error"]["message"], wrong
    for role in ("oncall", "viewer", "liaison"):
        headers, _ = bearer(app, role)
        assert refused(app.client.post("/api/v1/peacetime/contacts", json=body,
                                       headers=headers), 403), role
    assert len(rows(app.ctx, ContactLog)) == 1


def test_agreements_added_and_finished(app: AppServer) -> None:
    coordinator, token_id = bearer(app, "coordinator")
    made = app.client.post("/api/v1/peacetime/agreements", headers=coordinator, json={
        "community": "moskee-b", "text": "Jaarlijkse open dag " + MARKUP, "due": "2026-06-01"})
    assert made.status_code == 201, made.text
    doc = made.json()
    assert (doc["community"], doc["due"], doc["done"]) == ("moskee-b", "2026-06-01", False)
    path = f"/api/v1/peacetime/agreements/{doc['id']}/done"
    liaison, _ = bearer(app, "liaison")
    assert refused(app.client.post(path, headers=liaison), 403)
    assert app.client.post(path, headers=coordinator).json() == {"changed": True}
    assert app.client.post(path, headers=coordinator).json() == {"changed": False}
    [agreement] = rows(app.ctx, Agreement)
    assert agreement.done_at is not None
    assert refused(app.client.post("/api/v1/peacetime/agreements/999/done",
                                   headers=coordinator), 404)
    assert refused(app.client.post("/api/v1/peacetime/agreements", headers=coordinator,
                                   json={"community": "nowhere", "text": "x"}), 404)
    assert refused(app.client.post("/api/v1/peacetime/agreements", headers=coordinator,
                                   json={"community": "kerk-c", "text": ""}), 422)
    assert len(rows(app.ctx, Agreement)) == 1
    kinds = [e.actor for e in rows(app.ctx, Event, Event.kind.startswith("peacetime.agreement"))]
    assert kinds and set(kinds) == {f"token:{token_id}"}


def test_the_roster_now_and_next_phones_for_responders(app: AppServer) -> None:
    viewer, _ = bearer(app, "viewer")
    oncall, _ = bearer(app, "oncall")
    seen = app.client.get("/api/v1/roster", headers=viewer).json()
    assert [(p["id"], p["starts_at"], p["phone"]) for p in seen["on_call"]] == [
        ("st-oncall", "2026-03-01T07:00:00Z", None)]
    assert [(s["staff"], s["starts_at"]) for s in seen["next"]] == [
        ("st-oncall", "2026-03-02T11:00:00Z")]
    responder = app.client.get("/api/v1/roster", headers=oncall).json()
    assert responder["on_call"][0]["phone"] == "+31622222202"


def test_bodies_are_bounded_and_odd_paths_answer_as_the_api(app: AppServer) -> None:
    coordinator, _ = bearer(app, "coordinator")
    large = app.client.post("/api/v1/peacetime/agreements", headers=coordinator,
                            json={"community": "kerk-c", "text": "x" * 70_000})
    assert refused(large, 413)
    # a line break in the path is not taken by the API's mount: still the API's answers
    assert refused(app.client.get("/api/v1/registry/a%0Ab"), 401)
    assert refused(app.client.get("/api/v1/registry/a%0Ab", headers=coordinator), 404)
    assert rows(app.ctx, Agreement) == []
