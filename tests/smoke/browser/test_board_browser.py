"""Declaring and following an incident in a real browser: the declare form with its live
preview, the board turning a community "acknowledged" when a signed SMS reply arrives (no
reload), and what a viewer may not do; screenshots of both pages at phone and desktop size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Playwright, expect
from sqlalchemy.engine import Engine
from sqlmodel import select
from twilio.request_validator import RequestValidator

from engine.accounts.apitokens import create_api_token
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Incident
from engine.wiring import build_worker
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.engine_support import ENGINE_PLAYBOOK
from tests.smoke.browser.conftest import (
    DESKTOP,
    PHONE,
    Dashboard,
    browsers,
    console_errors,
    output_dir,
)
from tests.smoke.server import AHMED, serve_app

AUTH_TOKEN = "board-test-auth-token"
PHONE_EXTRA = {"is_mobile": True, "has_touch": True}


@pytest.fixture
def fresh(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, chromium: str,
          playwright: Playwright) -> Iterator[Dashboard]:
    """The application on the engine tests' playbook, no incident yet; inbound SMS signed with
    AUTH_TOKEN (SMS itself goes to the console channel)."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with browsers(playwright, chromium, tmp_path) as open_browser, \
            serve_app(sqlite_engine, clock, tmp_path, playbook=str(ENGINE_PLAYBOOK),
                   twilio_auth_token=AUTH_TOKEN) as server:
        yield Dashboard(server, clock, open_browser)



def _incidents(dashboard: Dashboard) -> list[Incident]:
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        return list(s.exec(select(Incident)))


def _fill_declare(page: Page) -> None:
    page.fill("#f-target", "islam")
    page.fill("#title", "Brandstichting bij Moskee A")
    page.select_option("#severity", "4")
    expect(page.locator("#preview")).to_contain_text("Brandstichting", timeout=10_000)
    expect(page.locator("#preview")).to_contain_text("Moskee A")
    expect(page.locator("#declare.htmx-request")).to_have_count(0)  # the preview is settled


def _reply(dashboard: Dashboard, sender: str, body: str) -> None:
    """Post an inbound SMS to the webhook, signed as Twilio signs it."""
    url = dashboard.server.inbound_url
    params = {"AccountSid": "AC" + "0" * 32, "Body": body, "From": sender,
              "MessageSid": "SM" + "1" * 32, "NumMedia": "0", "To": "+3197010000000"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.text


def test_a_coordinator_declares_and_sees_the_reply_arrive_on_the_board(fresh: Dashboard
                                                                        ) -> None:
    dashboard = fresh
    user = dashboard.user("coordinator")
    shots = output_dir()
    page = dashboard.page(DESKTOP, locale="nl-NL")
    problems = console_errors(page, responses=True)
    dashboard.log_in(page, user)
    page.click("nav a[href='/declare']")
    page.wait_for_url("**/declare")
    assert page.locator("h1").inner_text() == "Incident melden"
    # the preview starts by saying what it still needs, then follows the form
    expect(page.locator("#preview")).to_contain_text("target", timeout=10_000)
    expect(page.locator("#preview")).to_contain_text("verplicht bij type")  # said in Dutch
    page.screenshot(path=str(shots / "declare-empty-desktop.png"), full_page=True)
    _fill_declare(page)
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Moskee B")
    expect(preview).to_contain_text("Buurt D")
    assert "Kerk C" not in preview.inner_text()
    assert _incidents(dashboard) == []  # a preview changes nothing
    page.screenshot(path=str(shots / "declare-desktop.png"), full_page=True)
    page.click("#confirm")
    page.wait_for_url("**/incidents/*")
    [incident] = _incidents(dashboard)
    assert incident.title == "Brandstichting bij Moskee A" and incident.severity == 4
    assert page.url == f"{dashboard.url}/incidents/{incident.id}"
    row = page.locator("tr[data-community='moskee-a'] [data-status]")
    assert row.get_attribute("data-status") == "not_contacted"
    assert row.inner_text() == "nog niet benaderd"

    build_worker(dashboard.server.ctx, name="board-test").run_cycle()  # the SMS go out
    expect(row).to_have_attribute("data-status", "sent", timeout=15_000)
    page.evaluate("window.stillTheSamePage = true")
    _reply(dashboard, AHMED, "OK")
    expect(row).to_have_attribute("data-status", "acknowledged", timeout=15_000)
    assert row.inner_text() == "bevestigd"
    assert page.evaluate("window.stillTheSamePage") is True  # no reload: htmx swapped it in
    acknowledged = page.locator(".events [data-kind='community.acknowledged']").first
    expect(acknowledged).to_have_text("bevestigd")
    page.screenshot(path=str(shots / "board-desktop.png"), full_page=True)

    # filters: only the acknowledged ones
    page.select_option("#filter-status", "acknowledged")
    expect(page.locator("tr[data-community]")).to_have_count(2, timeout=10_000)
    assert "status=acknowledged" in page.url
    assert problems == [], f"console errors (CSP?): {problems}"

    phone = dashboard.page(PHONE, locale="nl-NL", **PHONE_EXTRA)
    dashboard.clock.advance(timedelta(seconds=30))
    dashboard.log_in(phone, user)
    phone.goto(f"{dashboard.url}/incidents/{incident.id}")
    phone.screenshot(path=str(shots / "board-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.goto(f"{dashboard.url}/declare")
    _fill_declare(phone)
    phone.screenshot(path=str(shots / "declare-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_coordinator_takes_over_and_closes_on_the_board(fresh: Dashboard) -> None:
    dashboard = fresh
    page = dashboard.page(DESKTOP, locale="en-GB")
    problems = console_errors(page, responses=True)
    dashboard.log_in(page, dashboard.user("coordinator"))
    page.goto(dashboard.url + "/declare")
    _fill_declare(page)
    page.click("#confirm")
    page.wait_for_url("**/incidents/*")
    row = page.locator("tr[data-community='buurt-d']")
    page.select_option("#act-staff", "st-oncall")
    row.locator("button", has_text="Take over").click()
    status = row.locator("[data-status]")
    expect(status).to_have_attribute("data-status", "taken_over", timeout=10_000)
    expect(row).to_contain_text("st-oncall")
    moskee = page.locator("tr[data-community='moskee-b']")
    moskee.locator("button", has_text="Acknowledged for them").click()
    expect(moskee.locator("[data-status]")).to_have_attribute("data-status", "acknowledged",
                                                               timeout=10_000)
    page.click("summary:has-text('Close the incident')")
    page.click("button:has-text('Yes, close the incident')")
    expect(page.locator("h1 .badge").first).to_have_text("closed")
    assert [i.status for i in _incidents(dashboard)] == ["closed"]
    assert page.locator("button", has_text="Take over").count() == 0
    assert problems == [], problems


def test_a_viewer_cannot_declare_by_page_or_api(fresh: Dashboard) -> None:
    dashboard = fresh
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("viewer"))
    assert page.locator("nav a[href='/declare']").count() == 0
    page.goto(dashboard.url + "/declare")
    assert page.locator("h1").inner_text() == "Geen toegang"
    with session_scope(dashboard.server.ctx.engine) as s:
        _, token = create_api_token(s, name="viewer script", role="viewer", created_by="cli",
                                    now=dashboard.clock.now())
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"type": "attack", "fields": {"target": "islam"}}
    for path in ("/api/v1/incidents", "/api/v1/incidents/preview"):
        refused = page.request.post(dashboard.url + path, headers=bearer, data=body)
        assert refused.status == 403 and refused.json()["error"]["status"] == 403
    assert _incidents(dashboard) == []


def test_the_declare_form_without_its_csrf_token_is_refused(fresh: Dashboard) -> None:
    dashboard = fresh
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("coordinator"))
    page.goto(dashboard.url + "/declare")
    _fill_declare(page)
    page.evaluate("document.querySelector('#declare input[name=csrf]').remove()")
    page.click("#confirm")
    assert page.locator("h1").inner_text() == "Formulier verlopen"
    assert _incidents(dashboard) == []
