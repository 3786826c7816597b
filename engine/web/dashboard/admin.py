"""Administration for coordinators: API tokens (create, shown once; revoke) and accounts."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from engine.accounts.apitokens import create_api_token, list_api_tokens, revoke_api_token
from engine.accounts.roles import COORDINATORS, Role
from engine.accounts.service import list_accounts
from engine.errors import InputError
from engine.web.access import Area, principal_of, web_of
from engine.web.dashboard.render import render

area = Area(prefix="/admin")
ROLES = [r.value for r in Role]


async def _tokens_page(request: Request, *, status: int = 200, **extra: object) -> Response:
    tokens = await web_of(request).store.read(list_api_tokens)
    return render(request, "tokens.html", status=status, tokens=tokens, roles=ROLES, **extra)


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
    now = web.ctx.clock.now()
    try:
        _, token = await web.store.write(lambda s: create_api_token(
            s, name=name, role=role, created_by=who.actor, now=now))
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


@area.get("/users", allow=COORDINATORS)
async def users_page(request: Request) -> Response:
    """Every account (made with `verbinder user add`)."""
    accounts = await web_of(request).store.read(list_accounts)
    return render(request, "users.html", accounts=accounts)
