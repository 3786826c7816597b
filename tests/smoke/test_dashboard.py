"""The dashboard and the API over HTTP, served by uvicorn on loopback: who may see what,
sessions, CSRF, rate limits, headers."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.accounts.apitokens import create_api_token
from engine.accounts.sessions import IDLE
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import ApiToken, Event, WebSession
from engine.web.access import PRE_COOKIE, SESSION_COOKIE, Area, check_guarded, walk_routes
from engine.web.dashboard import STATIC
from engine.web.headers import DASHBOARD_POLICY
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, User, enrolled
from tests.engine_support import make_ctx
from tests.smoke.server import AppServer, declare, rows, serve_app

_numbers = itertools.count(1)


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application on SQLite with the dashboard registry and one declared incident."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        declare(served.ctx)  # moskee-a (liaison st-liaison), moskee-b (st-liaison2)
        yield served


@pytest.fixture
def browser(app: AppServer) -> Iterator[Browserless]:
    """A fresh client (no cookies)."""
    client = Browserless(app.url)
    yield client
    client.close()


def _user(app: AppServer, role: str, staff: str | None = None) -> User:
    user = enrolled(app.ctx, f"{role}-{next(_numbers)}@example.org", role, staff)
    app.ctx.clock.advance(timedelta(seconds=30))  # the enrolment's step is spent
    return user


def _logged_in(app: AppServer, role: str, staff: str | None = None) -> Browserless:
    client = Browserless(app.url)
    answer = client.login(_user(app, role, staff), app.ctx.clock)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    return client


def _token(app: AppServer, role: str) -> dict[str, str]:
    with session_scope(app.ctx.engine) as s:
        _, token = create_api_token(s, name=f"test {role}", role=role, created_by="cli",
                                    now=app.ctx.clock.now())
    return {"authorization": f"Bearer {token}"}


def test_a_coordinator_logs_in_and_sees_the_incident(app: AppServer,
                                                     browser: Browserless) -> None:
    user = _user(app, "coordinator")
    assert browser.get("/").headers["location"] == "/login"
    answer = browser.login(user, app.ctx.clock)
    assert answer.status_code == 303
    home = browser.get("/")
    assert home.status_code == 200 and "Incident" in home.text and "/incidents/1" in home.text
    page = browser.get("/incidents/1")
    assert page.status_code == 200 and "Moskee A" in page.text and "Moskee B" in page.text
    assert page.text.count("/contacts\"") >= 2  # a coordinator may open both


def test_the_session_cookie_is_locked_down(app: AppServer, browser: Browserless) -> None:
    user = _user(app, "viewer")
    browser.get("/login")
    answer = browser.post("/login", {"email": user.email, "password": user.password})
    cookie = next(c for c in answer.headers.get_list("set-cookie")
                  if c.startswith(SESSION_COOKIE))
    for part in ("HttpOnly", "Secure", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert part in cookie
    assert "Domain" not in cookie


def test_a_forged_session_cookie_is_refused(app: AppServer, browser: Browserless) -> None:
    _logged_in(app, "coordinator").close()
    browser.cookies[SESSION_COOKIE] = "forged-" + "A" * 40
    assert browser.get("/").headers["location"] == "/login"
    assert browser.get("/admin/tokens").status_code == 303
    with session_scope(app.ctx.engine, read_only=True) as s:
        stored = [w.id_hash for w in s.exec(select(WebSession))]
    browser.cookies[SESSION_COOKIE] = stored[-1]  # the stored hash is not a cookie either
    assert browser.get("/").status_code == 303
    assert browser.get("/", headers={"hx-request": "true"}).headers["hx-redirect"] == "/login"


def test_a_form_without_this_sessions_csrf_token_is_refused(app: AppServer) -> None:
    coordinator = _logged_in(app, "coordinator")
    other = _logged_in(app, "coordinator")
    coordinator.get("/admin/tokens")
    for form, what in (({"name": "x", "role": "viewer"}, "missing"),
                       ({"name": "x", "role": "viewer", "csrf": other.csrf or ""}, "another"),
                       ({"name": "x", "role": "viewer", "csrf": "x"}, "made up")):
        refused = coordinator.post("/admin/tokens", form, csrf=False)
        assert refused.status_code == 403, what
        assert "Formulier verlopen" in refused.text or "Form expired" in refused.text
    assert rows(app.ctx, ApiToken) == []
    made = coordinator.post("/admin/tokens", {"name": "rapport", "role": "viewer"})
    assert made.status_code == 200 and "vbt_" in made.text
    assert [t.name for t in rows(app.ctx, ApiToken)] == ["rapport"]
    # the login form is bound to its pre-session cookie the same way
    fresh = Browserless(app.url)
    fresh.get("/login")
    assert PRE_COOKIE in fresh.cookies
    assert fresh.post("/login", {"email": "a@example.org", "password": "x" * 12},
                      csrf=False).status_code == 403
    fresh.close()


def test_a_replayed_login_is_refused(app: AppServer) -> None:
    user = _user(app, "coordinator")
    code = user.code(app.ctx.clock)
    first = Browserless(app.url)
    assert first.login(user, app.ctx.clock, code=code).status_code == 303
    second = Browserless(app.url)
    replay = second.login(user, app.ctx.clock, code=code)
    assert replay.status_code == 401 and "al gebruikt" in replay.text + "used already"
    assert second.get("/").headers["location"] == "/login"



def test_a_secret_sealed_under_another_key_is_refused_like_a_wrong_code(
        app: AppServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The secret key changed since the person enrolled: no 500, the second step's refusal."""
    before = make_ctx(app.ctx.engine, app.ctx.clock, tmp_path, secret_key="the key before")
    user = enrolled(before, "rotated@example.org", "coordinator")
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    with caplog.at_level(logging.WARNING, logger="engine.accounts"):
        refused = client.login(user, app.ctx.clock)
    assert refused.status_code == 401 and 'name="code"' in refused.text
    assert client.get("/").headers["location"] == "/login"
    [line] = [r.getMessage() for r in caplog.records]
    assert f"account {user.id} cannot be read" in line and "user reset-2fa" in line
    assert user.secret not in line and "rotated" not in line and "key before" not in line
    client.close()
    users = _logged_in(app, "coordinator").get("/admin/users").text
    assert users.count("onleesbaar (sleutel gewijzigd)") == 1  # the rotated account only

def test_a_viewer_cannot_reach_coordinator_pages_or_endpoints(app: AppServer) -> None:
    viewer = _logged_in(app, "viewer")
    assert viewer.get("/").status_code == 200
    assert viewer.get("/incidents/1").status_code == 200
    for path in ("/admin/tokens", "/admin/users"):
        assert viewer.get(path).status_code == 403
    viewer.get("/")
    assert viewer.post("/admin/tokens", {"name": "x", "role": "coordinator"}).status_code == 403
    assert rows(app.ctx, ApiToken) == []
    page = viewer.get("/incidents/1")
    assert "/contacts" not in page.text  # no contact details for viewers
    assert viewer.get("/incidents/1/communities/moskee-a/contacts").status_code == 403
    api = app.client
    assert api.get("/api/v1/incidents", headers=_token(app, "viewer")).status_code == 200
    refused = api.get("/api/v1/tokens", headers=_token(app, "viewer"))
    assert refused.status_code == 403 and refused.json()["error"]["status"] == 403
    assert api.get("/api/v1/tokens", headers=_token(app, "coordinator")).status_code == 200


def test_a_liaison_sees_only_their_own_communities_contacts(app: AppServer) -> None:
    liaison = _logged_in(app, "liaison", "st-liaison")
    page = liaison.get("/incidents/1")
    assert "/communities/moskee-a/contacts" in page.text
    assert "/communities/moskee-b/contacts" not in page.text
    own = liaison.get("/incidents/1/communities/moskee-a/contacts")
    assert own.status_code == 200 and "Ahmed Een" in own.text and "+31611111101" in own.text
    other = liaison.get("/incidents/1/communities/moskee-b/contacts")
    assert other.status_code == 403 and "Bora" not in other.text
    fragment = liaison.get("/incidents/1/communities/moskee-a/contacts",
                           headers={"hx-request": "true"})
    assert fragment.text.lstrip().startswith("<div class=\"contact-list\">")
    seen = [(e.actor, e.community_id, e.data) for e in rows(app.ctx, Event)
            if e.kind == "contact.viewed"]
    account = seen[0][0]
    assert seen == [(account, "moskee-a", {"contacts": ["a1", "a2"], "source": "web"})] * 2
    assert account.startswith("account:")
    assert liaison.get("/incidents/1/communities/kerk-c/contacts").status_code == 404
    assert liaison.get("/incidents/99/communities/moskee-a/contacts").status_code == 404


def test_sessions_end_when_idle_or_logged_out(app: AppServer) -> None:
    client = _logged_in(app, "oncall")
    app.ctx.clock.advance(IDLE + timedelta(seconds=1))
    assert client.get("/").headers["location"] == "/login"
    client = _logged_in(app, "oncall")
    old = client.cookies[SESSION_COOKIE]
    client.get("/")
    out = client.post("/logout")
    assert out.status_code == 303 and SESSION_COOKIE not in client.cookies
    client.cookies[SESSION_COOKIE] = old  # a copy of the cookie taken before
    assert client.get("/").headers["location"] == "/login"


def test_login_attempts_are_rate_limited(app: AppServer, browser: Browserless) -> None:
    user = _user(app, "coordinator")
    browser.get("/login")
    statuses = [browser.post("/login", {"email": user.email, "password": "wrong password!"}
                             ).status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    busy = browser.post("/login", {"email": user.email, "password": user.password})
    assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
    app.ctx.clock.advance(timedelta(minutes=1))
    assert browser.post("/login", {"email": user.email,
                                   "password": user.password}).status_code == 303


def test_dashboard_pages_allow_our_scripts_and_nothing_inline(app: AppServer) -> None:
    client = _logged_in(app, "coordinator")
    for path in ("/", "/incidents/1", "/admin/tokens", "/admin/users", "/nothing-here"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        if answer.status_code == 404:
            assert "script-src" not in csp  # not a dashboard page: the strict policy
            continue
        assert csp == DASHBOARD_POLICY and "unsafe" not in csp
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in answer.headers  # plain http
        html = answer.text.lower()
        assert "<style" not in html and " style=" not in html and " on" + "click" not in html
        assert html.count("<script") == 1 and '<script src="/static/htmx-2.0.11.min.js"' in html
    behind_tls = client.get("/", headers={"x-forwarded-proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


def test_the_vendored_htmx_is_the_recorded_file(app: AppServer) -> None:
    notes = (STATIC / "VENDORED.md").read_text()
    served = app.client.get("/static/htmx-2.0.11.min.js")
    assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    assert hashlib.sha256(served.content).hexdigest() in notes
    assert (STATIC / "htmx-LICENSE.txt").read_text().startswith("Zero-Clause BSD")
    assert app.client.get("/static/app.css").status_code == 200


def test_the_language_switch_stays_on_this_site(app: AppServer, browser: Browserless) -> None:
    for target in ("https://evil.example.net/", "//evil.example.net", "/\\evil.example.net",
                   "javascript:alert(1)"):
        answer = browser.get("/lang/en", params={"next": target})
        assert answer.headers["location"] == "/"
    assert browser.get("/lang/en", params={"next": "/incidents/1"}).headers["location"] \
        == "/incidents/1"
    assert "Log in" in browser.get("/login").text
    browser.get("/lang/nl", params={"next": "/login"})
    assert "Inloggen" in browser.get("/login").text


def test_every_route_says_who_may_use_it(app: AppServer) -> None:
    unguarded = FastAPI()

    @unguarded.get("/forgotten")
    async def forgotten() -> None:
        """A route registered without an Area."""

    with pytest.raises(RuntimeError, match=r"\['GET'\] /forgotten"):
        check_guarded(unguarded.routes)
    # inside an included router (FastAPI includes routers lazily) or a mounted application
    nested = APIRouter(prefix="/deep")
    nested.add_api_route("/hidden", forgotten, methods=["GET"])
    outer = FastAPI()
    outer.include_router(nested)
    with pytest.raises(RuntimeError, match="/deep/hidden"):
        check_guarded(outer.routes)
    mounted = FastAPI()
    mounted.mount("/sub", unguarded)
    with pytest.raises(RuntimeError, match="/sub/forgotten"):
        check_guarded(mounted.routes)
    with pytest.raises(TypeError):
        Area().get("/x")(forgotten)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="allow="):
        Area().get("/x", allow=frozenset())(forgotten)


def test_nothing_but_the_public_routes_answers_without_login(app: AppServer) -> None:
    from engine.web.app import create_app

    application = create_app(app.ctx).app.app  # inside the headers and the bounds
    public = {"/login", "/login/totp", "/lang/{code}", "/enrol/{token}", "/healthz",
              "/a/{token}", "/i/{token}", "/webhooks/twilio/status", "/webhooks/twilio/inbound"}
    checked = 0
    for full, route in walk_routes(application.routes):
        if not isinstance(route, APIRoute) or full in public or full.startswith("/api/"):
            continue
        path = full.replace("{incident_id}", "1").replace("{community_id}", "moskee-a")
        path = path.replace("{token_id}", "1")
        for method in route.methods:
            answer = app.client.request(method, path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path
            checked += 1
    api = app.client.get("/api/v1/openapi.json").json()
    for path, methods in api["paths"].items():
        for method in methods:
            answer = app.client.request(method, "/api/v1" + path.replace("{incident_id}", "1"))
            assert answer.status_code == 401, path
            checked += 1
    assert checked >= 10
