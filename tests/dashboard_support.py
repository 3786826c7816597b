"""Dashboard test support: enrolled accounts, TOTP codes on the fake clock, and an HTTP client
that keeps the dashboard's Secure cookies on a loopback http server (as browsers do; httpx's
cookie jar does not send Secure cookies over http)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pyotp

from engine.accounts.enrolment import complete_enrolment, view_enrolment
from engine.accounts.passwords import hash_password
from engine.accounts.service import add_account
from engine.clock import FakeClock
from engine.store.db import session_scope
from engine.wiring import AppContext

DASHBOARD_REGISTRY = Path(__file__).resolve().parent / "fixtures" / "dashboard_registry"
PASSWORD = "kalm en leesbaar 2026"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PASSWORD_HASH: list[str] = []  # hashing costs ~64 MiB and some time: once per test run


@dataclass
class User:
    """An enrolled account: what its person knows (password, TOTP secret, recovery codes)."""

    id: int
    email: str
    role: str
    secret: str
    recovery: list[str]
    password: str = PASSWORD

    def code(self, clock: FakeClock, steps: int = 0) -> str:
        """The TOTP code of the app at the fake clock's time (plus `steps` of 30 s)."""
        return pyotp.TOTP(self.secret).at(clock.now() + timedelta(seconds=30 * steps))


def enrolled(ctx: AppContext, email: str, role: str, staff: str | None = None) -> User:
    """An account that has set its password and second factor (through the services)."""
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        account, token = add_account(session, email=email, role=role, staff_id=staff, now=now,
                                     key=ctx.totp_key)
        view = view_enrolment(session, token=token, now=now, key=ctx.totp_key)
    assert view is not None
    secret = view.totp_secret
    with session_scope(ctx.engine) as session:
        codes = complete_enrolment(session, token=token, new_password_hash=_PASSWORD_HASH[0],
                                   code=pyotp.TOTP(secret).at(now), now=now, key=ctx.totp_key)
    assert codes is not None and account.id is not None
    return User(id=account.id, email=account.email, role=role, secret=secret, recovery=codes)


class Browserless:
    """An HTTP client on a served application that keeps cookies as a browser does on
    loopback (Secure ones too) and finds each page's CSRF token."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=15.0, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request with the kept cookies; keep what the answer sets."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        for line in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        found = _CSRF.search(response.text) if "text/html" in response.headers.get(
            "content-type", "") else None
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             **kwargs: Any) -> httpx.Response:
        """POST a form, with the CSRF token of the last page seen (unless csrf=False)."""
        form = dict(data or {})
        if csrf and self.csrf is not None:
            form.setdefault("csrf", self.csrf)
        return self.request("POST", path, data=form, **kwargs)

    def login(self, user: User, clock: FakeClock, *, code: str | None = None
              ) -> httpx.Response:
        """Log in with password and TOTP; returns the second step's answer."""
        self.get("/login")
        first = self.post("/login", {"email": user.email, "password": user.password})
        assert first.status_code == 303, first.text
        self.get("/login/totp")
        return self.post("/login/totp", {"code": code or user.code(clock)})
