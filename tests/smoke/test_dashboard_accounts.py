"""Accounts on the dashboard over HTTP (uvicorn on loopback): a coordinator adds an account
(the enrolment link shown once), disables one, resets a second factor, by the rules of
`verbinder user add|disable|reset-2fa` and audited as the coordinator; everyone else 403;
no CSRF, nothing done; hostile addresses shown as text."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.models import Account, AuditEntry, Event, WebSession
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, enrolled
from tests.smoke.server import AppServer, rows, serve_app

_numbers = itertools.count(1)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/enrol/[A-Za-z0-9_-]+")


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application with the dashboard registry (staff st-liaison, st-oncall, ...)."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        yield served


def _client(app: AppServer, role: str, staff: str | None = None) -> tuple[Browserless, int]:
    user = enrolled(app.ctx, f"{role}-u{next(_numbers)}@example.org", role, staff)
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    assert client.login(user, app.ctx.clock).status_code == 303
    return client, user.id


def _account(app: AppServer, email: str) -> Account | None:
    found = rows(app.ctx, Account, Account.email == email)
    return found[0] if found else None


def test_a_coordinator_adds_a_liaison_and_the_link_is_shown_once(app: AppServer) -> None:
    client, coordinator = _client(app, "coordinator")
    page = client.get("/admin/users")
    assert page.status_code == 200 and 'name="csrf"' in page.text
    assert 'value="st-liaison"' in page.text  # the staff members to choose from
    added = client.post("/admin/users", {"email": "New.Liaison@Example.org",
                                         "role": "liaison", "staff": "st-liaison"})
    assert added.status_code == 200, added.text
    [link] = LINK.findall(added.text)
    account = _account(app, "new.liaison@example.org")
    assert account is not None and (account.role, account.staff_id, account.active) == (
        "liaison", "st-liaison", True)
    [event] = rows(app.ctx, Event, Event.kind == "account.created",
                   Event.actor == f"account:{coordinator}")
    assert event.data["account"] == account.id and "example.org" not in str(event.data)
    assert rows(app.ctx, AuditEntry, AuditEntry.action == "account.created",
                AuditEntry.actor == f"account:{coordinator}")
    assert LINK.search(client.get("/admin/users").text) is None  # shown once
    enrol = Browserless(app.url).get(link.removeprefix(app.url))
    assert enrol.status_code == 200  # the link opens the enrolment page


def test_refused_accounts_are_explained_and_nothing_is_stored(app: AppServer) -> None:
    client, _ = _client(app, "coordinator")
    client.get("/admin/users")
    before = len(rows(app.ctx, Account))
    for form, words in (
            ({"email": "lia@example.org", "role": "liaison", "staff": ""}, "staff member"),
            ({"email": "x@example.org", "role": "admin", "staff": ""}, "unknown role"),
            ({"email": "x@example.org", "role": "viewer", "staff": "nobody"}, "nobody"),
            ({"email": "not an address", "role": "viewer", "staff": ""}, "not an email")):
        answer = client.post("/admin/users", form)
        assert answer.status_code == 422 and words in answer.text, form
        assert LINK.search(answer.text) is None
    client.post("/admin/users", {"email": "twice@example.org", "role": "viewer"})
    again = client.post("/admin/users", {"email": "TWICE@example.org", "role": "viewer"})
    assert again.status_code == 422 and "exists already" in again.text
    assert len(rows(app.ctx, Account)) == before + 1


def test_hostile_addresses_are_shown_as_text(app: AppServer) -> None:
    client, _ = _client(app, "coordinator")
    client.get("/admin/users")
    hostile = '"><script>alert(1)</script>@example.org'
    refused = client.post("/admin/users", {"email": hostile, "role": "viewer"})
    assert refused.status_code == 422
    assert "<script>alert(1)" not in refused.text and "&lt;script&gt;" in refused.text
    shown = client.post("/admin/users", {"email": "o'brien+x@example.org", "role": "viewer"})
    assert shown.status_code == 200 and "o&#39;brien+x@example.org" in shown.text


@pytest.mark.parametrize("role", ["liaison", "viewer", "oncall"])
def test_others_may_not_manage_accounts(app: AppServer, role: str) -> None:
    client, _ = _client(app, role, "st-liaison" if role == "liaison" else None)
    target = enrolled(app.ctx, f"target-{role}@example.org", "viewer")
    assert client.get("/admin/users").status_code == 403
    client.get("/")  # a page of theirs, for a CSRF token of their own session
    assert client.post("/admin/users", {"email": "x@example.org", "role": "coordinator"}
                       ).status_code == 403
    assert client.post(f"/admin/users/{target.id}/disable").status_code == 403
    assert client.post(f"/admin/users/{target.id}/reset-2fa").status_code == 403
    assert _account(app, "x@example.org") is None
    account = _account(app, target.email)
    assert account is not None and account.active and account.totp_secret is not None


def test_without_csrf_nothing_is_done(app: AppServer) -> None:
    client, _ = _client(app, "coordinator")
    target = enrolled(app.ctx, "target@example.org", "viewer")
    client.get("/admin/users")
    assert client.post("/admin/users", {"email": "x@example.org", "role": "viewer"},
                       csrf=False).status_code == 403
    assert client.post(f"/admin/users/{target.id}/disable", csrf=False).status_code == 403
    assert client.post(f"/admin/users/{target.id}/reset-2fa", {"csrf": "forged"},
                       csrf=False).status_code == 403
    assert _account(app, "x@example.org") is None
    account = _account(app, target.email)
    assert account is not None and account.active and account.totp_secret is not None


def test_disable_ends_the_sessions_at_once(app: AppServer) -> None:
    client, coordinator = _client(app, "coordinator")
    liaison, liaison_id = _client(app, "liaison", "st-liaison")
    assert liaison.get("/").status_code == 200
    client.get("/admin/users")
    done = client.post(f"/admin/users/{liaison_id}/disable")
    assert done.status_code == 200 and "uitgeschakeld" in done.text
    assert liaison.get("/").status_code == 303  # back to the login
    account = _account(app, rows(app.ctx, Account, Account.id == liaison_id)[0].email)
    assert account is not None and not account.active
    assert all(s.revoked_at is not None for s in rows(app.ctx, WebSession,
                                                       WebSession.account_id == liaison_id))
    assert [e.actor for e in rows(app.ctx, Event, Event.kind == "account.disabled")] == [
        f"account:{coordinator}"]
    assert client.post("/admin/users/999/disable").status_code == 404


def test_reset_the_second_factor(app: AppServer) -> None:
    client, coordinator = _client(app, "coordinator")
    lost = enrolled(app.ctx, "lost.phone@example.org", "oncall")
    client.get("/admin/users")
    reset = client.post(f"/admin/users/{lost.id}/reset-2fa")
    assert reset.status_code == 200 and len(LINK.findall(reset.text)) == 1
    account = _account(app, lost.email)
    assert account is not None and account.totp_secret is None and account.active
    assert [e.actor for e in rows(app.ctx, Event, Event.kind == "account.2fa_reset")] == [
        f"account:{coordinator}"]
    client.post("/admin/users", {"email": "fresh@example.org", "role": "viewer"})
    fresh = _account(app, "fresh@example.org")
    assert fresh is not None
    listed = client.get("/admin/users", headers={"accept-language": "en"}).text
    assert f'action="/admin/users/{fresh.id}/reset-2fa"' in listed and "New link" in listed
    renewed = client.post(f"/admin/users/{fresh.id}/reset-2fa",
                          headers={"accept-language": "en"})
    assert renewed.status_code == 200 and len(LINK.findall(renewed.text)) == 1
    assert "the earlier one no longer works" in renewed.text
    assert [e.actor for e in rows(app.ctx, Event, Event.kind == "account.enrolment_renewed")
            ] == [f"account:{coordinator}"]
