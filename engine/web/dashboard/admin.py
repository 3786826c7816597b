"""Administration for coordinators: API tokens (create, shown once; revoke) and accounts (add,
with the one-time enrolment link shown once; disable; reset the second factor), through the
same account verbs and rules as `verbinder user add|disable|reset-2fa`, audited as the
coordinator's account."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from engine.accounts.apitokens import create_api_token, list_api_tokens, revoke_api_token
from engine.accounts.roles import COORDINATORS, Role
from engine.accounts.service import (
    ENROLMENT_VALID,
    add_account,
    disable_account,
    enrolment_url,
    list_accounts,
    reset_second_factor,
)
from engine.errors import InputError, NotFoundError
from engine.registry.service import list_staff
from engine.store.models import Account
from engine.web.access import Area, principal_of, web_of
from engine.web.dashboard.render import render

area = Area(prefix="/admin")
ROLES = [r.value for r in Role]
ACCOUNT_IDS = 2**31 - 1
HOURS = int(ENROLMENT_VALID.total_seconds() // 3600)


async def _tokens_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    tokens, staff = await web_of(request).store.read(
        lambda s: (list_api_tokens(s), list_staff(session=s)))
    return render(request, "tokens.html", status=status, tokens=tokens, roles=ROLES,
                  staff=staff, **extra)


@area.get("/tokens", allow=COORDINATORS)
async def tokens_page(request: Request) -> Response:
    """The API tokens and a form to make one."""
    return await _tokens_page(request)


@area.post("/tokens", allow=COORDINATORS)
async def create_token(request: Request) -> Response:
    """Make a token; it is shown on this answer only."""
    web, who = web_of(request), principal_of(request)
    form = await request.form()
    name, role = str(form.get("name", ""))[:500], str(form.get("role", ""))[:40]
    staff = str(form.get("staff", ""))[:300] or None
    now = web.ctx.clock.now()
    try:
        _, token = await web.store.write(lambda s: create_api_token(
            s, name=name, role=role, created_by=who.actor, now=now, staff_id=staff))
    except InputError as exc:
        return await _tokens_page(request, status=422, error="; ".join(exc.problems))
    return await _tokens_page(request, new_token=token)


@area.post("/tokens/{token_id}/revoke", allow=COORDINATORS)
async def revoke_token(request: Request, token_id: int) -> Response:
    """Revoke a token; back to the list."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    if 0 < token_id <= 2**31 - 1:
        await web.store.write(lambda s: revoke_api_token(s, token_id=token_id, now=now,
                                                         actor=who.actor))
    return RedirectResponse("/admin/tokens", status_code=303)


def _users(session: Session, key: bytes) -> dict[str, Any]:
    return {"accounts": list_accounts(session, key=key), "staff": list_staff(session=session)}


async def _users_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    page = await web.store.read(partial(_users, key=web.ctx.totp_key))
    return render(request, "users.html", status=status, roles=ROLES, hours=HOURS, **page,
                  **extra)


@area.get("/users", allow=COORDINATORS)
async def users_page(request: Request) -> Response:
    """Every account, a form to add one, and per account disable / reset its second factor."""
    return await _users_page(request)


@area.post("/users", allow=COORDINATORS)
async def add_user(request: Request) -> Response:
    """Add an account (as `verbinder user add`); its enrolment link is on this answer only."""
    web, who = web_of(request), principal_of(request)
    form = await request.form()
    email, role = str(form.get("email", ""))[:300], str(form.get("role", ""))[:40]
    staff = str(form.get("staff", ""))[:200].strip() or None
    now = web.ctx.clock.now()
    try:
        address, token = await web.store.write(lambda s: _added(s, email=email, role=role,
                                                                staff=staff, now=now,
                                                                key=web.ctx.totp_key,
                                                                actor=who.actor))
    except InputError as exc:
        return await _users_page(request, status=422, problems=list(exc.problems),
                                 values={"email": email, "role": role, "staff": staff})
    return await _users_page(request, done="user_added", done_email=address,
                             link=enrolment_url(web.ctx.settings.public_url, token))


def _added(session: Session, *, email: str, role: str, staff: str | None, now: Any,
           key: bytes, actor: str) -> tuple[str, str]:
    account, token = add_account(session, email=email, role=role, staff_id=staff, now=now,
                                 key=key, actor=actor)
    return account.email, token


def _by_id(session: Session, account_id: int) -> str:
    account = session.get(Account, account_id) if 0 < account_id <= ACCOUNT_IDS else None
    if account is None:
        raise NotFoundError(f"account {account_id}: no such account")
    return account.email


async def _changed(request: Request, account_id: int,
                   change: Callable[[Session, str, Any, str], str | None],
                   done: str | Callable[[], str]) -> Response:
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    email: list[str] = []

    def work(session: Session) -> str | None:
        email.append(_by_id(session, account_id))
        return change(session, email[0], now, who.actor)
    try:
        token = await web.store.write(work)
    except NotFoundError:
        raise
    except InputError as exc:
        return await _users_page(request, status=422, problems=list(exc.problems))
    link = enrolment_url(web.ctx.settings.public_url, token) if token else None
    return await _users_page(request, done=done() if callable(done) else done,
                             done_email=email[0], link=link)


def _disable(session: Session, email: str, now: Any, actor: str) -> None:
    disable_account(session, email=email, now=now, actor=actor)


def _reset(session: Session, email: str, now: Any, actor: str, *, key: bytes,
           renewed: list[bool]) -> str:
    account, token = reset_second_factor(session, email=email, now=now, key=key, actor=actor)
    renewed.append(account.password_hash is None)
    return token


@area.post("/users/{account_id}/disable", allow=COORDINATORS)
async def disable_user(request: Request, account_id: int) -> Response:
    """Disable an account (as `verbinder user disable`): its sessions end at once."""
    return await _changed(request, account_id, _disable, "user_disabled")


@area.post("/users/{account_id}/reset-2fa", allow=COORDINATORS)
async def reset_user_2fa(request: Request, account_id: int) -> Response:
    """Forget an account's second factor (as `verbinder user reset-2fa`), or give an account
    that never enrolled a new enrolment link; the link is on this answer only."""
    renewed: list[bool] = []
    reset = partial(_reset, key=web_of(request).ctx.totp_key, renewed=renewed)
    return await _changed(request, account_id, reset,
                          lambda: "user_relinked" if any(renewed) else "user_reset")
