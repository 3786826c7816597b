"""The dashboard in a real browser: logging in with TOTP, what each role may reach, refusals
of forged sessions, forms without their token and replayed logins; screenshots at phone and
desktop size for a person to look at."""

from __future__ import annotations

from sqlmodel import select

from engine.accounts.apitokens import create_api_token
from engine.store.db import session_scope
from engine.store.models import ApiToken, Event
from engine.web.access import SESSION_COOKIE
from tests.smoke.browser.conftest import DESKTOP, PHONE, Dashboard, output_dir


def test_a_coordinator_logs_in_with_totp_and_sees_the_home_page(dashboard: Dashboard) -> None:
    user = dashboard.user("coordinator")
    shots = output_dir()
    for name, viewport, extra in (("phone", PHONE, {"is_mobile": True, "has_touch": True}),
                                  ("desktop", DESKTOP, {})):
        page = dashboard.page(viewport, locale="nl-NL", **extra)
        problems: list[str] = []
        page.on("console", lambda m, p=problems: p.append(m.text) if m.type == "error" else None)
        page.goto(dashboard.url + "/login")
        assert page.locator("h1").inner_text() == "Inloggen"
        page.screenshot(path=str(shots / f"login-{name}.png"), full_page=True)
        dashboard.log_in(page, user)
        assert page.url == dashboard.url + "/"
        assert page.locator("h1").inner_text() == "Open incidenten"
        assert page.locator(".card-title").first.inner_text() == "Incident"
        page.screenshot(path=str(shots / f"home-{name}.png"), full_page=True)
        # the incident, and a community's contacts loaded by htmx in place (no reload)
        page.click("a.card-link")
        page.wait_for_url("**/incidents/1")
        page.locator("text=Contacten tonen").first.click()
        page.wait_for_selector(".contact-list")
        assert page.url == dashboard.url + "/incidents/1"
        assert "Ahmed Een" in page.locator(".contact-list").first.inner_text()
        page.screenshot(path=str(shots / f"incident-{name}.png"), full_page=True)
        assert problems == [], f"console errors (CSP?): {problems}"
        dashboard.clock.advance(__import__("datetime").timedelta(seconds=30))
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        viewed = list(s.exec(select(Event).where(Event.kind == "contact.viewed")))
    assert [(e.actor, e.community_id) for e in viewed] == [(f"account:{user.id}",
                                                             "moskee-a")] * 2


def test_a_forged_session_cookie_is_refused(dashboard: Dashboard) -> None:
    page = dashboard.page()
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": "forged" + "x" * 40,
                               "domain": "127.0.0.1", "path": "/", "secure": True,
                               "httpOnly": True,
                               "sameSite": "Strict"}])
    page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/login"
    page.goto(dashboard.url + "/incidents/1")
    assert page.url == dashboard.url + "/login"


def test_a_form_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("coordinator"))
    page.goto(dashboard.url + "/admin/tokens")
    page.fill("#name", "zonder token")
    page.evaluate("document.querySelector(\"form[action='/admin/tokens'] input[name=csrf]\")"
                  ".remove()")
    page.click("form[action='/admin/tokens'] button[type=submit]")
    assert page.locator("h1").inner_text() == "Formulier verlopen"
    with session_scope(dashboard.server.ctx.engine, read_only=True) as s:
        assert list(s.exec(select(ApiToken))) == []
    page.goto(dashboard.url + "/admin/tokens")  # with the token, it works
    page.fill("#name", "met token")
    page.click("form[action='/admin/tokens'] button[type=submit]")
    assert page.locator("code.token").inner_text().startswith("vbt_")


def test_a_replayed_login_is_refused(dashboard: Dashboard) -> None:
    user = dashboard.user("coordinator")
    code = user.code(dashboard.clock)
    first = dashboard.page(locale="nl-NL")
    dashboard.log_in(first, user, code)
    assert first.url == dashboard.url + "/"
    second = dashboard.page(locale="nl-NL")
    dashboard.log_in(second, user, code)
    assert second.url == dashboard.url + "/login/totp"
    assert "al gebruikt" in second.locator(".error").inner_text()
    second.goto(dashboard.url + "/")
    assert second.url == dashboard.url + "/login"


def test_a_viewer_cannot_reach_a_coordinator_page_or_endpoint(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("viewer"))
    assert page.locator("nav a[href='/admin/tokens']").count() == 0
    assert page.locator("text=Contacten tonen").count() == 0
    page.goto(dashboard.url + "/admin/tokens")
    assert page.locator("h1").inner_text() == "Geen toegang"
    with session_scope(dashboard.server.ctx.engine) as s:
        _, token = create_api_token(s, name="viewer script", role="viewer", created_by="cli",
                                    now=dashboard.clock.now())
    bearer = {"Authorization": f"Bearer {token}"}
    refused = page.request.get(dashboard.url + "/api/v1/tokens", headers=bearer)
    assert refused.status == 403 and refused.json()["error"]["status"] == 403
    assert page.request.get(dashboard.url + "/api/v1/incidents", headers=bearer).status == 200


def test_a_liaison_cannot_open_another_liaisons_community(dashboard: Dashboard) -> None:
    page = dashboard.page(locale="nl-NL")
    dashboard.log_in(page, dashboard.user("liaison", "st-liaison"))
    page.goto(dashboard.url + "/incidents/1")
    links = page.locator("text=Contacten tonen")
    hrefs = {links.nth(n).get_attribute("href") for n in range(links.count())}
    # moskee-a and buurt-d are theirs; moskee-b is st-liaison2's
    assert hrefs == {"/incidents/1/communities/moskee-a/contacts",
                     "/incidents/1/communities/buurt-d/contacts"}
    page.goto(dashboard.url + "/incidents/1/communities/moskee-b/contacts")
    assert page.locator("h1").inner_text() == "Geen toegang"
    assert "Bora" not in page.content()
    page.goto(dashboard.url + "/incidents/1/communities/moskee-a/contacts")
    assert "Amal Twee" in page.locator(".contact-list").inner_text()


def test_a_new_account_enrols_through_its_link_on_a_phone(dashboard: Dashboard) -> None:
    import pyotp

    from engine.accounts.service import add_account

    with session_scope(dashboard.server.ctx.engine) as s:
        _, token = add_account(s, email="nieuw@example.org", role="oncall", staff_id=None,
                               now=dashboard.clock.now(), key=dashboard.server.ctx.totp_key)
    page = dashboard.page(PHONE, locale="nl-NL", is_mobile=True, has_touch=True)
    page.goto(f"{dashboard.url}/enrol/{token}")
    assert page.locator("h1").inner_text() == "Account instellen"
    assert page.locator(".qr svg").count() == 1
    page.screenshot(path=str(output_dir() / "enrol-phone.png"), full_page=True)
    secret = page.locator(".secret code").inner_text().replace(" ", "")
    page.fill("#password", "een lang wachtwoord")
    page.fill("#repeat", "een lang wachtwoord")
    page.fill("#code", pyotp.TOTP(secret).at(dashboard.clock.now()))
    page.click("form button[type=submit]")
    assert page.locator("h1").inner_text() == "Klaar"
    assert page.locator(".codes li").count() == 10
    page.goto(f"{dashboard.url}/enrol/{token}")  # the link worked once
    assert page.locator("h1").inner_text() == "Account instellen"
    assert "verlopen, al gebruikt" in page.locator(".note").inner_text()
