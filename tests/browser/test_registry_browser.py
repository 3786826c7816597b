"""The registry pages in a real browser: a liaison searches and opens only their own
communities, and reading a community's contacts is recorded; screenshots at phone size."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import select

from engine.store.db import session_scope
from engine.store.models import Event
from tests.browser.conftest import PHONE, Dashboard, output_dir


def test_a_liaison_finds_and_opens_only_their_own_communities(dashboard: Dashboard) -> None:
    user = dashboard.user("liaison", "st-liaison")
    page = dashboard.page(PHONE, locale="nl-NL", is_mobile=True, has_touch=True)
    dashboard.log_in(page, user)
    page.goto(dashboard.url + "/registry")
    titles = page.locator("#results .card-title")
    assert sorted(titles.all_inner_texts()) == ["Buurt D", "Moskee A"]  # not Moskee B
    page.fill("#q", "moskee")
    expect(titles).to_have_count(1, timeout=10_000)
    assert "q=moskee" in page.url
    page.screenshot(path=str(output_dir() / "registry-phone.png"), full_page=True)
    titles.first.click()
    page.wait_for_url("**/registry/moskee-a")
    assert page.locator("h1").inner_text() == "Moskee A"
    page.click("text=Contacten tonen")
    expect(page.locator(".contact-list")).to_contain_text("Amal Twee")
    assert page.url.endswith("/registry/moskee-a")  # loaded in place
    page.screenshot(path=str(output_dir() / "community-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(dashboard.url + "/registry/moskee-b")
    assert page.locator("h1").inner_text() == "Geen toegang"
    page.goto(dashboard.url + "/registry/moskee-b/contacts")
    assert page.locator("h1").inner_text() == "Geen toegang"
    assert "Bora" not in page.content()
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        viewed = list(s.exec(select(Event).where(Event.kind == "contact.viewed")))
    assert [(e.actor, e.community_id, e.data["source"]) for e in viewed] == [
        (f"account:{user.id}", "moskee-a", "web")]


def test_a_viewer_has_no_registry(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("viewer"))
    assert page.locator("nav a[href='/registry']").count() == 0
    page.goto(dashboard.url + "/registry/moskee-a")
    assert page.locator("h1").inner_text() == "Geen toegang"
