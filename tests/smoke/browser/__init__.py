"""Browser tests: Playwright driving the Debian chromium package."""
