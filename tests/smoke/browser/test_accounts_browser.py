"""The accounts page in a real browser: a coordinator adds a liaison (with the staff member
whose communities they see), sees the one-time enrolment link, and the new person enrols on
it; a liaison gets "Geen toegang". Screenshots at phone and desktop size."""

from __future__ import annotations

from datetime import timedelta

from tests.smoke.browser.conftest import DESKTOP, PHONE, Dashboard, console_errors, output_dir


def test_a_coordinator_adds_a_liaison_who_then_enrols(dashboard: Dashboard) -> None:
    shots = output_dir()
    coordinator = dashboard.user("coordinator")
    for name, viewport, extra in (("phone", PHONE, {"is_mobile": True, "has_touch": True}),
                                  ("desktop", DESKTOP, {})):
        page = dashboard.page(viewport, locale="nl-NL", **extra)
        problems = console_errors(page)
        dashboard.log_in(page, coordinator)
        page.click("nav a[href='/admin/users']")
        page.wait_for_url("**/admin/users")
        page.fill("#email", f"nieuwe.collega.{name}@example.org")
        page.select_option("#role", "liaison")
        page.select_option("#staff", "st-liaison")
        page.click("text=Account toevoegen >> nth=-1")
        status = page.locator("[role=status]")
        assert f"nieuwe.collega.{name}@example.org" in status.inner_text()
        link = page.locator("[role=status] code").inner_text()
        assert link.startswith(dashboard.url + "/enrol/")
        row = page.locator("tr", has_text=f"nieuwe.collega.{name}@example.org")
        assert "Contactpersoon" in row.inner_text() and "st-liaison" in row.inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the screen"
        page.screenshot(path=str(shots / f"accounts-{name}.png"), full_page=True)
        page.goto(dashboard.url + "/admin/users")  # the link is shown once
        assert page.locator("[role=status]").count() == 0
        assert problems == [], f"console errors (CSP?): {problems}"
        newcomer = dashboard.page(viewport, locale="nl-NL", **extra)
        newcomer.goto(link)
        assert newcomer.locator("input[type=password]").count() >= 1
        dashboard.clock.advance(timedelta(seconds=30))  # a TOTP code works once


def test_a_liaison_may_not_open_the_accounts(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("liaison", "st-liaison"))
    assert page.locator("nav a[href='/admin/users']").count() == 0
    page.goto(dashboard.url + "/admin/users")
    assert page.locator("h1").inner_text() == "Geen toegang"
