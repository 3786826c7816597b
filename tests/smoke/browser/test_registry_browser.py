"""The registry and peace-time pages in a real browser: a liaison opens their own community
and not another's, logs a contact from the peace-time page and finds it on the community's
page; the search filters as one types (htmx); screenshots at phone and desktop size."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlmodel import select

from engine.store.db import session_scope
from engine.store.models import ContactLog, Event
from tests.smoke.browser.conftest import DESKTOP, PHONE, Dashboard, console_errors, output_dir

SIZES = (("phone", PHONE, {"is_mobile": True, "has_touch": True}), ("desktop", DESKTOP, {}))
# (community, its name, a contact met): each size logs with another community, one that is due
LOGGED = (("moskee-a", "Moskee A", "a2"), ("buurt-d", "Buurt D", "d1"))



def _fits(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_a_liaison_opens_their_own_community_and_not_anothers(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    problems = console_errors(page)
    dashboard.log_in(page, dashboard.user("liaison", "st-liaison"))
    page.click("nav a[href='/registry']")
    page.wait_for_url("**/registry")
    titles = page.locator(".card-title").all_inner_texts()
    assert sorted(titles) == ["Buurt D", "Moskee A"]  # their own only
    page.goto(dashboard.url + "/registry/moskee-b")
    assert page.locator("h1").inner_text() == "Geen toegang"
    assert "Bora" not in page.content() and "Lia Twee" not in page.content()
    problems.remove("Failed to load resource: the server responded with a status of 403 "
                    "(Forbidden)")  # the refusal itself
    page.goto(dashboard.url + "/registry/moskee-a")
    assert page.locator("h1").inner_text().startswith("Moskee A")
    page.locator("text=Contacten tonen").click()
    page.wait_for_selector(".contact-list")
    assert page.url == dashboard.url + "/registry/moskee-a"  # loaded in place
    assert "Amal Twee" in page.locator(".contact-list").inner_text()
    assert problems == [], f"console errors (CSP?): {problems}"
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        viewed = [e.community_id for e in s.exec(select(Event).where(
            Event.kind == "contact.viewed"))]
    assert viewed == ["moskee-a"]


def test_a_liaison_logs_a_contact_and_sees_it_on_the_community_page(
        dashboard: Dashboard) -> None:
    user = dashboard.user("liaison", "st-liaison")
    shots = output_dir()
    for (name, viewport, extra), (community, title, person) in zip(SIZES, LOGGED,
                                                                    strict=True):
        page = dashboard.page(viewport, locale="nl-NL", **extra)
        problems = console_errors(page)
        dashboard.log_in(page, user)
        page.click("nav a[href='/peacetime']")
        page.wait_for_url("**/peacetime")
        card = page.locator(".card", has_text=title)
        assert "nog nooit" in card.inner_text()
        _fits(page)
        page.screenshot(path=str(shots / f"peacetime-{name}.png"), full_page=True)
        card.locator("text=Contact vastleggen").click()
        page.wait_for_url(f"**/peacetime/log?community={community}")
        page.check(f"input[name=with][value={person}]")
        page.select_option("#kind", "meeting")
        page.fill("#place", f"Buurthuis De Brug {name}")
        page.check("input[name=neutral_ground]")
        page.fill("#note", "Zorgen over de bouw van het nieuwe centrum.\nVolgende keer met "
                           "de jongeren.")
        _fits(page)
        page.screenshot(path=str(shots / f"contact-log-{name}.png"), full_page=True)
        page.click("form[action='/peacetime/log'][method=post] button[type=submit]")
        page.wait_for_url(f"**/registry/{community}?logged=1#log")
        assert "Het contact is vastgelegd" in page.locator("[role=status]").inner_text()
        log = page.locator("section[aria-labelledby=log] .events").inner_text()
        assert f"Buurthuis De Brug {name}" in log and "Zorgen over de bouw" in log
        assert "Op neutrale grond" in log
        page.fill("#agreement-text", "Samen een open dag organiseren in het voorjaar")
        page.click("form[action='/peacetime/agreements'] button[type=submit]")
        page.wait_for_url(f"**/registry/{community}#agreements")
        page.locator("text=Contacten tonen").click()
        page.wait_for_selector(".contact-list")
        _fits(page)
        page.screenshot(path=str(shots / f"community-{name}.png"), full_page=True)
        assert problems == [], f"console errors (CSP?): {problems}"
        dashboard.clock.advance(timedelta(seconds=30))
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        logged = list(s.exec(select(ContactLog)))
    assert [(r.staff_id, r.created_by) for r in logged] == [
        ("st-liaison", f"account:{user.id}")] * 2
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        page_after = [e.community_id for e in s.exec(select(Event).where(
            Event.kind == "peacetime.contact"))]
    assert page_after == ["moskee-a", "buurt-d"]


def test_the_search_filters_as_one_types(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="en-GB")
    problems = console_errors(page)
    dashboard.log_in(page, dashboard.user("coordinator"))
    page.goto(dashboard.url + "/registry")
    assert len(page.locator(".card-title").all_inner_texts()) == 4
    page.locator("#q").press_sequentially("islam", delay=20)
    expect(page.locator(".card-title")).to_have_count(2)
    assert sorted(page.locator(".card-title").all_inner_texts()) == ["Moskee A", "Moskee B"]
    assert page.url.endswith("/registry?q=islam")  # the address says what is shown
    page.screenshot(path=str(output_dir() / "registry-desktop.png"), full_page=True)
    page.goto(dashboard.url + "/roster")
    assert page.locator("h1").inner_text() == "On-call roster"
    page.set_viewport_size(PHONE)
    _fits(page)
    page.screenshot(path=str(output_dir() / "roster-phone.png"), full_page=True)
    assert problems == [], f"console errors (CSP?): {problems}"
