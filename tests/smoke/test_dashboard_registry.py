"""The registry, peace-time and roster pages over HTTP (uvicorn on loopback): who may open
which community, audited contact reads, notes only for those allowed, logging contacts and
agreements with CSRF as the logged-in account, hostile text shown as text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import update

from engine.clock import FakeClock
from engine.oncall.service import import_roster
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import (
    Agreement,
    AuditEntry,
    Community,
    ContactLog,
    ContactLogPerson,
    Event,
    Note,
)
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, enrolled
from tests.smoke.server import AppServer, rows, serve_app

MARKUP = '<script>alert(1)</script><img src=x onerror="alert(2)">'
_numbers = itertools.count(1)


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application with the dashboard registry (moskee-a and buurt-d: st-liaison's,
    moskee-b: st-liaison2's, kerk-c: nobody's) and a roster."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    roster = tmp_path / "oncall.csv"
    roster.write_text("staff,start,end\nst-oncall,2026-03-01 08:00,2026-03-02 08:00\n"
                      "st-oncall,2026-03-02 12:00,2026-03-03 08:00\n")
    import_roster(engine=sqlite_engine, paths=[roster])
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        yield served


def _client(app: AppServer, role: str, staff: str | None = None) -> tuple[Browserless, int]:
    user = enrolled(app.ctx, f"{role}-r{next(_numbers)}@example.org", role, staff)
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    assert client.login(user, app.ctx.clock).status_code == 303
    return client, user.id


def _events(app: AppServer, kind: str) -> list[Event]:
    return rows(app.ctx, Event, Event.kind == kind)


def test_a_coordinator_searches_and_opens_any_community(app: AppServer) -> None:
    client, account = _client(app, "coordinator")
    everything = client.get("/registry")
    assert everything.status_code == 200
    for name in ("Moskee A", "Moskee B", "Kerk C", "Buurt D"):
        assert name in everything.text
    islam = client.get("/registry", params={"q": "ISLAM"}).text
    assert "Moskee A" in islam and "Moskee B" in islam and "Kerk C" not in islam
    by_area = client.get("/registry", params={"q": "BU09990104"}).text
    assert "Buurt D" in by_area and "Moskee A" not in by_area
    fragment = client.get("/registry", params={"q": "kerk"}, headers={"hx-request": "true"})
    assert "Kerk C" in fragment.text and "<html" not in fragment.text
    page = client.get("/registry/moskee-b")
    assert page.status_code == 200 and "Lia Twee" in page.text
    assert "/registry/moskee-b/contacts" in page.text and "Bora" not in page.text
    assert _events(app, "contact.viewed") == []  # the page shows no contact details
    contacts = client.get("/registry/moskee-b/contacts", headers={"hx-request": "true"})
    assert "Bora Een" in contacts.text and "<html" not in contacts.text
    seen = _events(app, "contact.viewed")
    assert [(e.actor, e.community_id, e.data["source"]) for e in seen] == [
        (f"account:{account}", "moskee-b", "web:registry")]
    audit = rows(app.ctx, AuditEntry, AuditEntry.action == "contact.view")
    assert [(a.actor, a.object) for a in audit] == [(f"account:{account}",
                                                     "community:moskee-b")]
    for odd in ("no-such-community", "x" * 5000, "%E2%80%AE", "%00", "..%2F..%2Fetc",
                "moskee-a%0D%0AX-Injected: 1"):
        answer = client.get("/registry/" + odd)
        assert answer.status_code in (404, 414), odd
        assert "x-injected" not in answer.headers
    many = [("community", f"c{n}") for n in range(60)] + [("community", "moskee-a")]
    form = client.get("/peacetime/log", params=many)
    assert form.status_code == 200 and "Moskee A" not in form.text  # cut at 51 ids


def test_a_liaison_opens_only_their_own_communities(app: AppServer) -> None:
    client, _ = _client(app, "liaison", "st-liaison")
    listed = client.get("/registry").text
    assert "Moskee A" in listed and "Buurt D" in listed
    assert "Moskee B" not in listed and "Kerk C" not in listed
    assert "Moskee B" not in client.get("/registry", params={"q": "moskee"}).text
    for path in ("/registry/moskee-b", "/registry/moskee-b/contacts", "/registry/kerk-c"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "Bora" not in refused.text and "Moskee B" not in refused.text
    assert _events(app, "contact.viewed") == []
    assert client.get("/registry/moskee-a").status_code == 200
    assert "Amal Twee" in client.get("/registry/moskee-a/contacts").text


def test_who_may_reach_which_page(app: AppServer) -> None:
    viewer, _ = _client(app, "viewer")
    for path in ("/registry", "/registry/moskee-a", "/registry/moskee-a/contacts",
                 "/peacetime", "/peacetime/log"):
        assert viewer.get(path).status_code == 403, path
    roster = viewer.get("/roster")
    assert roster.status_code == 200 and "Otto Call" in roster.text
    assert "+31622222202" not in roster.text  # a viewer sees who, not their number
    oncall, _ = _client(app, "oncall")
    assert oncall.get("/registry/moskee-b").status_code == 200
    assert oncall.get("/peacetime").status_code == 403
    assert "+31622222202" in oncall.get("/roster").text
    assert oncall.post("/peacetime/log", {"community": "moskee-a", "kind": "visit"}
                       ).status_code == 403
    assert rows(app.ctx, ContactLog) == []


def test_the_roster_shows_who_is_on_call_now_and_next(app: AppServer) -> None:
    client, _ = _client(app, "coordinator")
    page = client.get("/roster")
    now_part, next_part = page.text.split('id="next"')
    # the roster's times are local (Amsterdam), and shown so
    assert "Otto Call" in now_part and "2 mrt 2026 08:00" in now_part
    assert "Otto Call" in next_part and "2 mrt 2026 12:00" in next_part
    assert "1 mrt 2026 08:00" not in next_part  # the current shift is not "next"


def test_a_liaison_logs_a_contact_and_sees_it_with_its_note(app: AppServer) -> None:
    client, account = _client(app, "liaison", "st-liaison")
    due = client.get("/peacetime")
    assert due.status_code == 200 and "Moskee A" in due.text and "Moskee B" not in due.text
    form = client.get("/peacetime/log", params={"community": "moskee-a"})
    assert form.status_code == 200 and "Ahmed Een" in form.text and 'name="csrf"' in form.text
    assert [e.data["source"] for e in _events(app, "contact.viewed")] == [
        "web:contact-log-form"]  # the names offered were read: recorded
    fields = {"community": "moskee-a", "kind": "meeting", "with": "a2",
              "when": "2026-03-01T09:30", "place": "Buurthuis", "neutral_ground": "on",
              "note": "Zorgen over\r\nde bouw " + MARKUP}
    refused = client.post("/peacetime/log", fields, csrf=False)
    assert refused.status_code == 403 and rows(app.ctx, ContactLog) == []
    done = client.post("/peacetime/log", fields)
    assert done.status_code == 303
    assert done.headers["location"] == "/registry/moskee-a?logged=1#log"
    [logged] = rows(app.ctx, ContactLog)
    assert logged.staff_id == "st-liaison" and logged.created_by == f"account:{account}"
    assert logged.neutral_ground and logged.place == "Buurthuis"
    assert logged.at.replace(tzinfo=None).isoformat() == "2026-03-01T08:30:00"  # UTC
    assert [p.contact_id for p in rows(app.ctx, ContactLogPerson)] == ["a2"]
    assert [n.text for n in rows(app.ctx, Note)] == ["Zorgen over\nde bouw " + MARKUP]
    audit = rows(app.ctx, AuditEntry, AuditEntry.action == "contact.log")
    assert [a.actor for a in audit] == [f"account:{account}"]
    page = client.get("/registry/moskee-a?logged=1").text
    assert "Buurthuis" in page and "Zorgen over" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the note is personal data: on-call staff see the contact, not the note
    oncall, _ = _client(app, "oncall")
    other = oncall.get("/registry/moskee-a").text
    assert "Buurthuis" in other and "Zorgen over" not in other
    coordinator, _ = _client(app, "coordinator")
    assert "Zorgen over" in coordinator.get("/registry/moskee-a").text


def test_a_liaison_cannot_log_for_another_liaisons_community(app: AppServer) -> None:
    client, _ = _client(app, "liaison", "st-liaison")
    client.get("/peacetime/log")
    for fields in ({"community": "moskee-b", "kind": "visit"},
                   {"community": ["moskee-a", "moskee-b"], "kind": "visit"}):
        assert client.post("/peacetime/log", fields).status_code == 403  # type: ignore[arg-type]
    assert client.get("/peacetime/log", params={"community": "moskee-b"}).status_code == 403
    assert rows(app.ctx, ContactLog) == []
    assert _events(app, "contact.viewed") == []


def test_bad_contact_forms_are_refused_with_every_problem(app: AppServer) -> None:
    client, _ = _client(app, "coordinator")
    client.get("/peacetime/log")
    for fields, problem in (
            ({"community": "moskee-a", "kind": "gossip", "by": "st-liaison"}, "gossip"),
            ({"community": "moskee-a", "kind": "visit", "by": "st-liaison",
              "when": "gisteren"}, "gisteren"),
            ({"community": "moskee-a", "kind": "visit", "by": "st-liaison",
              "when": "2027-01-01T10:00"}, "in de toekomst"),
            ({"community": "moskee-a", "kind": "visit", "by": "st-liaison",
              "note": "x" * 2001}, "2000"),
            ({"community": "moskee-a", "kind": "visit", "by": "st-liaison",
              "place": "a\x00b"}, "control character"),
            ({"kind": "visit", "by": "st-liaison"}, "minstens een")):
        answer = client.post("/peacetime/log", fields)
        assert answer.status_code == 422, fields
        assert problem in answer.text, problem
    assert rows(app.ctx, ContactLog) == []
    huge = client.post("/peacetime/log", {"community": "moskee-a", "note": "x" * 70000})
    assert huge.status_code == 413
    # a coordinator logs for a liaison
    assert client.post("/peacetime/log", {"community": "kerk-c", "kind": "call",
                                          "by": "st-liaison2"}).status_code == 303
    assert [r.staff_id for r in rows(app.ctx, ContactLog)] == ["st-liaison2"]


def test_agreements_are_added_and_finished_by_those_who_keep_the_community(
        app: AppServer) -> None:
    liaison, account = _client(app, "liaison", "st-liaison")
    liaison.get("/registry/moskee-a")
    added = liaison.post("/peacetime/agreements", {"community": "moskee-a",
                                                   "text": "Samen een open dag " + MARKUP,
                                                   "due": "2026-06-01"})
    assert added.status_code == 303 and added.headers["location"] == \
        "/registry/moskee-a#agreements"
    [made] = rows(app.ctx, Agreement)
    assert made.created_by == f"account:{account}" and str(made.due) == "2026-06-01"
    page = liaison.get("/registry/moskee-a").text
    assert "Samen een open dag" in page and "<img src=x" not in page
    assert f"/peacetime/agreements/{made.id}/done" in page
    assert liaison.post("/peacetime/agreements", {"community": "moskee-a", "text": " "}
                        ).status_code == 422
    assert liaison.post("/peacetime/agreements", {"community": "moskee-a", "text": "x",
                                                  "due": "morgen"}).status_code == 422
    assert liaison.post("/peacetime/agreements", {"community": "moskee-b", "text": "x"}
                        ).status_code == 403
    assert liaison.post("/peacetime/agreements", {"community": "nope", "text": "x"}
                        ).status_code == 404
    # another liaison's agreement cannot be finished by this one
    other, _ = _client(app, "liaison", "st-liaison2")
    other.get("/peacetime")
    assert other.post(f"/peacetime/agreements/{made.id}/done").status_code == 403
    assert other.post("/peacetime/agreements/999/done").status_code == 404
    assert liaison.post(f"/peacetime/agreements/{made.id}/done", csrf=False
                        ).status_code == 403
    assert rows(app.ctx, Agreement)[0].done_at is None
    assert liaison.post(f"/peacetime/agreements/{made.id}/done").status_code == 303
    assert rows(app.ctx, Agreement)[0].done_by == f"account:{account}"
    audit = rows(app.ctx, AuditEntry, AuditEntry.action.startswith("agreement."))  # type: ignore[attr-defined]
    assert [(a.action, a.actor) for a in audit] == [("agreement.add", f"account:{account}"),
                                                    ("agreement.done", f"account:{account}")]


def test_the_due_list_is_per_liaison(app: AppServer) -> None:
    coordinator, _ = _client(app, "coordinator")
    page = coordinator.get("/peacetime").text
    for name in ("Lia Son", "Lia Twee", "Moskee A", "Moskee B", "Kerk C"):
        assert name in page, name
    liaison, _ = _client(app, "liaison", "st-liaison")
    own = liaison.get("/peacetime").text
    assert "Moskee A" in own and "Lia Twee" not in own and "Kerk C" not in own


def test_markup_in_registry_names_is_shown_as_text(app: AppServer) -> None:
    with session_scope(app.ctx.engine) as s:
        s.exec(update(Community).values(name=MARKUP, area=MARKUP))
    client, _ = _client(app, "coordinator")
    for path in ("/registry", "/registry?q=script", "/registry/moskee-a", "/peacetime",
                 "/peacetime/log?community=moskee-a", "/registry/moskee-a/contacts"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text, path
