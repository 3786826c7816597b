"""The issue's Done-when for needs: a contact answers the intake form on a phone-sized screen
in Arabic (right to left), choosing security; the coordinator's board, open and not
reloaded, shows the community's need and its new task appear. Screenshots of the form at
phone size and of the board after the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.smoke.browser.conftest import (
    DESKTOP,
    PHONE,
    Dashboard,
    browsers,
    console_errors,
    output_dir,
)
from tests.smoke.server import serve_app
from tests.smoke.test_board_needs import declare_attack, intake_token

PHONE_EXTRA = {"is_mobile": True, "has_touch": True}


@pytest.fixture
def needs(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, chromium: str,
          playwright: Playwright) -> Iterator[Dashboard]:
    """The default playbook on the dashboard registry; an attack on Moskee A declared and its
    first SMS sent (Ahmed's, in Arabic, carries the intake link)."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with browsers(playwright, chromium, tmp_path) as open_browser, \
            serve_app(sqlite_engine, clock, tmp_path) as server:
        declare_attack(server)
        yield Dashboard(server, clock, open_browser)



def _fits(page: Page, width: int) -> None:
    """Nothing wider than the screen, and every control inside it."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    outside = page.evaluate(
        """w => [...document.querySelectorAll('input, textarea, button, label, h1, legend')]
             .map(e => e.getBoundingClientRect())
             .filter(r => r.width > 0 && (r.left < 0 || r.right > w)).length""", width)
    assert outside == 0


def test_an_arabic_answer_on_a_phone_appears_on_the_open_board(needs: Dashboard) -> None:
    dashboard = needs
    shots = output_dir()
    board = dashboard.page(DESKTOP, locale="nl-NL")
    problems = console_errors(board, responses=True)
    dashboard.log_in(board, dashboard.user("coordinator"))
    board.goto(f"{dashboard.url}/incidents/1")
    row = board.locator("tr[data-community='moskee-a']")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "sent")
    assert "Beveiliging" not in row.inner_text()
    board.evaluate("window.stillTheSamePage = true")

    phone = dashboard.page(PHONE, locale="ar", **PHONE_EXTRA)
    phone.goto(f"{dashboard.url}/i/{intake_token(dashboard.server)}")
    html = phone.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    assert phone.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(phone.locator("h1")).to_have_text("ما الذي تحتاجونه الآن؟")
    _fits(phone, PHONE["width"])
    phone.screenshot(path=str(shots / "intake-phone-ar.png"), full_page=True)
    phone.get_by_label("الحماية والأمن").check()
    phone.locator("textarea[name=remarks]").fill("يقف أشخاص أمام الباب")
    phone.screenshot(path=str(shots / "intake-phone-ar-filled.png"), full_page=True)
    phone.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    _fits(phone, PHONE["width"])
    phone.screenshot(path=str(shots / "intake-phone-ar-thanks.png"), full_page=True)

    # the board, still open, shows the need and its new task (htmx's poll swapped them in)
    status = row.locator("[data-status]")
    expect(status).to_have_attribute("data-status", "needs_stated", timeout=15_000)
    expect(status).to_have_text("behoeften gemeld")
    needs_cell = row.locator("td.needs")
    expect(needs_cell.locator(".need-words")).to_have_text("Beveiliging")
    expect(needs_cell.locator("[data-task='arrange-security']")).to_contain_text(
        "Regel beveiliging met de politie")
    expect(needs_cell.locator("q.free-text")).to_have_text("يقف أشخاص أمام الباب")
    assert board.evaluate("window.stillTheSamePage") is True  # not reloaded
    expect(board.locator(".events [data-kind='task.added']").first).to_have_text("taak erbij")
    row.scroll_into_view_if_needed()
    board.screenshot(path=str(shots / "board-needs-desktop.png"), full_page=True)
    assert problems == [], f"console errors (CSP?): {problems}"

    coordinator_phone = dashboard.page(PHONE, locale="nl-NL", **PHONE_EXTRA)
    dashboard.log_in(coordinator_phone, dashboard.user("coordinator"))
    coordinator_phone.goto(f"{dashboard.url}/incidents/1?status=needs_stated")
    expect(coordinator_phone.locator("tr[data-community='moskee-a'] .need-words")
           ).to_have_text("Beveiliging")
    assert coordinator_phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    coordinator_phone.screenshot(path=str(shots / "board-needs-phone.png"), full_page=True)
