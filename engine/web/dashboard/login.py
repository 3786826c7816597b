"""Logging in and out, enrolment links, and the language switch (pages anyone may open)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from engine.accounts.enrolment import EnrolmentView, complete_enrolment, view_enrolment
from engine.accounts.passwords import hash_password, password_problem, verify_password
from engine.accounts.roles import EVERYONE
from engine.accounts.sessions import end_session, finish_login, login_candidate, start_login
from engine.accounts.totp import qr_svg
from engine.web.access import (
    LANG_COOKIE,
    PUBLIC,
    SECOND_FACTOR,
    SESSION_COOKIE,
    Area,
    clear_session_cookie,
    client_address,
    set_cookie,
    set_session_cookie,
    web_of,
)
from engine.web.dashboard.render import render
from engine.web.dashboard.words import LANGUAGES
from engine.web.ratelimit import Rate

area = Area()

# Guessing: per address 10 tries at once then one per 30 s; per account 5, then one a minute.
PER_ADDRESS = Rate(burst=10, every=timedelta(seconds=30))
PER_ACCOUNT = Rate(burst=5, every=timedelta(minutes=1))


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@area.get("/login", allow=PUBLIC)
async def login_page(request: Request) -> Response:
    """The login form."""
    notice = "logged_out" if request.query_params.get("out") else None
    return render(request, "login.html", notice=notice)


@area.post("/login", allow=PUBLIC)
async def login_submit(request: Request) -> Response:
    """Check the password; on success a half session waits for the second factor."""
    web = web_of(request)
    form = await _form(request)
    email, password = form.get("email", "")[:254], form.get("password", "")
    web.limit("login-address", client_address(request), PER_ADDRESS)
    web.limit("login-email", email.strip().lower(), PER_ACCOUNT)
    account_id, hashed = await web.store.read(lambda s: login_candidate(s, email=email))
    ok = await web.hashing(lambda: verify_password(hashed, password))
    if not ok or account_id is None:
        return render(request, "login.html", status=401, error="login_failed", email=email)
    now = web.ctx.clock.now()
    cookie = await web.store.write(lambda s: start_login(s, account_id=account_id, now=now))
    if cookie is None:
        return render(request, "login.html", status=401, error="login_failed", email=email)
    response = _see_other("/login/totp")
    set_session_cookie(response, cookie)
    return response


@area.get("/login/totp", allow=SECOND_FACTOR)
async def totp_page(request: Request) -> Response:
    """The second step: a TOTP code or a recovery code."""
    return render(request, "totp.html")


@area.post("/login/totp", allow=SECOND_FACTOR)
async def totp_submit(request: Request) -> Response:
    """Check the second factor; on success the session becomes a full one (a new id)."""
    web = web_of(request)
    who = request.state.half
    web.limit("totp-account", str(who.id), PER_ACCOUNT)
    code = (await _form(request)).get("code", "")[:40]
    now = web.ctx.clock.now()
    cookie = request.cookies.get(SESSION_COOKIE)
    key = web.ctx.totp_key
    new = await web.store.write(lambda s: finish_login(s, cookie=cookie, code=code, now=now,
                                                       key=key))
    if new is None:
        return render(request, "totp.html", status=401, error="totp_failed")
    response = _see_other("/")
    set_session_cookie(response, new)
    return response


@area.post("/logout", allow=EVERYONE)
async def logout(request: Request) -> Response:
    """End the session on the server and in the browser."""
    web = web_of(request)
    now = web.ctx.clock.now()
    cookie = request.cookies.get(SESSION_COOKIE)
    await web.store.write(lambda s: end_session(s, cookie=cookie, now=now))
    response = _see_other("/login?out=1")
    clear_session_cookie(response)
    return response


@area.get("/lang/{code}", allow=PUBLIC)
async def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """Remember the page language and go back to the page (a path of this site only)."""
    target = next if _local_path(next) else "/"
    response = _see_other(target)
    if code in LANGUAGES:
        set_cookie(response, LANG_COOKIE, code, max_age=365 * 86400)
    return response


def _local_path(value: str) -> bool:
    parts = urlsplit(value)
    return (value.startswith("/") and not value.startswith("//") and "\\" not in value
            and not parts.scheme and not parts.netloc and len(value) <= 500)


# --- enrolment --------------------------------------------------------------------------------

ENROL_PER_LINK = Rate(burst=5, every=timedelta(minutes=1))


async def _enrolment(request: Request, token: str) -> EnrolmentView | None:
    web = web_of(request)
    web.limit("enrol-address", client_address(request), PER_ADDRESS)
    now, key = web.ctx.clock.now(), web.ctx.totp_key
    return await web.store.read(lambda s: view_enrolment(s, token=token, now=now, key=key))


def _enrol_page(request: Request, view: EnrolmentView, *, status: int = 200,
                error: str | None = None) -> Response:
    groups = " ".join(view.totp_secret[i:i + 4] for i in range(0, len(view.totp_secret), 4))
    return render(request, "enrol.html", status=status, error=error, enrolment=view,
                  qr=qr_svg(view.uri), secret_groups=groups)


def _gone(request: Request) -> Response:
    return render(request, "message.html", status=410, title="enrol_title", text="enrol_gone")


@area.get("/enrol/{token}", allow=PUBLIC)
async def enrol_page(request: Request, token: str) -> Response:
    """Set a password and a second factor (a new account), or a new second factor."""
    view = await _enrolment(request, token)
    return _gone(request) if view is None else _enrol_page(request, view)


@area.post("/enrol/{token}", allow=PUBLIC)
async def enrol_submit(request: Request, token: str) -> Response:
    """Store the password and the confirmed TOTP secret; show the recovery codes once."""
    web = web_of(request)
    view = await _enrolment(request, token)
    if view is None:
        return _gone(request)
    web.limit("enrol-link", token[:100], ENROL_PER_LINK)
    form = await _form(request)
    password = form.get("password", "")
    new_hash, problem = await _password_step(web, view, password, form.get("repeat", ""))
    if problem:
        return _enrol_page(request, view, status=422, error=problem)
    now = web.ctx.clock.now()
    code = form.get("code", "")[:20]
    key = web.ctx.totp_key
    codes = await web.store.write(lambda s: complete_enrolment(
        s, token=token, new_password_hash=new_hash, code=code, now=now, key=key))
    if codes is None:
        return _enrol_page(request, view, status=422, error="enrol_code_failed")
    return render(request, "enrolled.html", codes=codes)


async def _password_step(web: Any, view: EnrolmentView, password: str, repeat: str
                         ) -> tuple[str | None, str | None]:
    """A new account's new password hash, or a 2FA reset's check of the current password."""
    if view.purpose == "enrol":
        problem = password_problem(password, repeat, view.email)
        if problem:
            return None, problem
        return await web.hashing(lambda: hash_password(password)), None
    ok = await web.hashing(lambda: verify_password(view.password_hash, password))
    return None, None if ok else "enrol_password_failed"
