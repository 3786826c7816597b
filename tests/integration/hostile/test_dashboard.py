"""Hostile input to the dashboard and the API: markup in names and titles, absurd sizes,
control characters, odd cookies and tokens. Every answer is a refusal or a page, never a
server error, and text is shown as text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import update

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Community, Incident
from engine.web.access import SESSION_COOKIE
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, enrolled
from tests.smoke.server import AppServer, declare, serve_app

MARKUP = '<script>alert(1)</script><img src=x onerror="alert(2)">'
_numbers = itertools.count(1)


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application with a declared incident whose title and names are markup."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        declare(served.ctx)
        with session_scope(sqlite_engine) as s:
            s.exec(update(Incident).values(title=MARKUP + "\u202e evil"))
            s.exec(update(Community).values(name=MARKUP))
        yield served


def _coordinator(app: AppServer) -> Browserless:
    user = enrolled(app.ctx, f"c{next(_numbers)}@example.org", "coordinator")
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    assert client.login(user, app.ctx.clock).status_code == 303
    return client


def test_markup_in_titles_and_names_is_shown_as_text(app: AppServer) -> None:
    client = _coordinator(app)
    for path in ("/", "/incidents/1", "/incidents/1/communities/moskee-a/contacts"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_absurd_and_odd_logins_are_refused_plainly(app: AppServer) -> None:
    client = Browserless(app.url)
    client.get("/login")
    for email, password in (("a@example.org", "x" * 3000), ("a\x00b@example.org", "y" * 20),
                            ("\u202e@example.org", "z" * 20), ("", ""),
                            ("' OR 1=1 --", "' OR 1=1 --")):
        answer = client.post("/login", {"email": email, "password": password})
        assert answer.status_code in (401, 429), (email[:20], answer.status_code)
    huge = client.post("/login", {"email": "a" * 10_000, "password": "b"})
    assert huge.status_code == 413  # bounded before it is read


@pytest.mark.parametrize("cookie", ["", "x" * 5000, "é" * 30, "a;b", "a\tb", "%00" * 20])
def test_odd_session_cookies_go_to_the_login(app: AppServer, cookie: str) -> None:
    raw = f"{SESSION_COOKIE}=".encode() + cookie.encode("utf-8")
    answer = app.client.get("/incidents/1", headers={"cookie": raw})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_odd_paths_and_tokens_are_refused(app: AppServer) -> None:
    client = _coordinator(app)
    for path, wanted in (("/incidents/99999999999999999999", 404), ("/incidents/-1", 404),
                         ("/incidents/x", 422), ("/incidents/0", 404),
                         ("/incidents/1/communities/" + "m" * 5000 + "/contacts", 404),
                         ("/incidents/1/communities/%E2%80%AE/contacts", 404),
                         ("/enrol/" + "t" * 5000, 410), ("/enrol/%00", 410)):
        assert client.get(path).status_code == wanted, path
    api = app.client
    for header in ("Bearer " + "v" * 5000, "Bearer vbt_\u00e9", "Basic abc", "Bearer", ""):
        answer = api.get("/api/v1/incidents", headers={"authorization": header.encode()})
        assert answer.status_code == 401 and answer.json()["error"]["status"] == 401
    assert client.get("/lang/en", params={"next": "/" + "a" * 5000}).headers["location"] == "/"
    page = client.get("/", headers={"accept-language": "x" * 5000 + ",en"})
    assert page.status_code == 200
