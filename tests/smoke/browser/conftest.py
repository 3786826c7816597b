"""Browser fixtures: Debian's chromium driven by Playwright (`playwright install` cannot
download here; `make test` installs the chromium package when it is missing), a served
application on a fake clock, and the folder screenshots go to."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from tests.dashboard_support import DASHBOARD_REGISTRY, User, enrolled
from tests.smoke.server import AppServer, declare, serve_app

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
_numbers = itertools.count(1)


def output_dir() -> Path:
    """Where screenshots go: $VERBINDER_TEST_OUTPUT/browser, else test-output/browser."""
    base = Path(os.environ.get("VERBINDER_TEST_OUTPUT", ROOT / "test-output"))
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium executable of the Debian package (fails, never skips, when missing)."""
    found = os.environ.get("VERBINDER_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install -y "
                    "chromium)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for the whole run."""
    with sync_playwright() as driver:
        yield driver


@dataclass
class Dashboard:
    """A served application and a way to open fresh browsers on it."""

    server: AppServer
    clock: FakeClock
    open_browser: Callable[..., BrowserContext]

    @property
    def url(self) -> str:
        """The server's address."""
        return self.server.url

    def user(self, role: str, staff: str | None = None) -> User:
        """An enrolled account of this role (its enrolment's TOTP step is spent)."""
        made = enrolled(self.server.ctx, f"{role}{next(_numbers)}@example.org", role, staff)
        self.clock.advance(timedelta(seconds=30))
        return made

    def page(self, viewport: dict[str, int] = DESKTOP, **options: Any) -> Page:
        """A page in a browser of its own (a fresh profile: no cookies, no storage)."""
        context = self.open_browser(viewport=viewport, **options)
        return context.pages[0] if context.pages else context.new_page()

    def log_in(self, page: Page, user: User, code: str | None = None) -> None:
        """Log in through the forms: password, then the code of the app."""
        page.goto(self.url + "/login")
        page.fill("#email", user.email)
        page.fill("#password", user.password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url("**/login/totp")
        page.fill("#code", code or user.code(self.clock))
        page.click("form[action='/login/totp'] button[type=submit]")
        page.wait_for_load_state()


@pytest.fixture
def dashboard(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, chromium: str,
              playwright: Playwright) -> Iterator[Dashboard]:
    """The application with the dashboard registry, one declared incident, and browsers."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with browsers(playwright, chromium, tmp_path) as open_browser, \
            serve_app(sqlite_engine, clock, tmp_path) as server:
        declare(server.ctx)
        yield Dashboard(server, clock, open_browser)


@contextmanager
def browsers(playwright: Playwright, chromium: str, folder: Path
             ) -> Iterator[Callable[..., BrowserContext]]:
    """A way to open browsers (a fresh profile each, in `folder`); all closed at the end."""
    contexts: list[BrowserContext] = []
    profiles = itertools.count(1)

    def open_browser(**options: Any) -> BrowserContext:
        context = playwright.chromium.launch_persistent_context(
            str(folder / f"profile-{next(profiles)}"), executable_path=chromium,
            headless=True, args=CHROMIUM_ARGS, **options)
        contexts.append(context)
        return context

    try:
        yield open_browser
    finally:
        for context in contexts:
            context.close()


def console_errors(page: Page, *, responses: bool = False) -> list[str]:
    """The page's console errors from now on (a CSP refusal is one), and with `responses`
    every answer of 400 or more it receives."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    if responses:
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
    return problems
