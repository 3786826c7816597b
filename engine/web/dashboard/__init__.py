"""The coordinators' dashboard: server-rendered pages behind staff accounts.

Each area is a module with an `Area` of routes (login.py, home.py, admin.py); `install` adds
them, the static files (our stylesheet, the vendored htmx), the JSON API under /api/v1, and
the pages that answer refusals, to the web application, then checks that every route of the
application says who may use it (engine.web.access.check_guarded).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import InputError, NotFoundError
from engine.web.access import (
    CsrfRefused,
    Forbidden,
    NotLoggedIn,
    TooMany,
    WebContext,
    check_guarded,
    token_principal,
)
from engine.web.api import PREFIX, build_api
from engine.web.dashboard import (
    admin,
    board,
    declare,
    downloads,
    home,
    login,
    peacetime,
    registry,
    roster,
)
from engine.web.dashboard.render import render

if TYPE_CHECKING:
    from engine.web.store import StoreThreads
    from engine.wiring import AppContext

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
AREAS = (login, home, declare, downloads, board, registry, peacetime, roster, admin)
DEFAULT_ZONE = "Europe/Amsterdam"


def playbook_zone(ctx: AppContext) -> ZoneInfo:
    """The configured playbook's timezone (where local times are shown)."""
    try:
        return ZoneInfo(ctx.load_playbook().timezone)
    except Exception as exc:  # a broken playbook must not keep the dashboard down
        log.warning("dashboard: the playbook's timezone is unknown (%s); using %s",
                    type(exc).__name__, DEFAULT_ZONE)
        return ZoneInfo(DEFAULT_ZONE)


def install(app: FastAPI, ctx: AppContext, store: StoreThreads) -> None:
    """Add the dashboard, the static files and the API to the application."""
    web = WebContext(ctx=ctx, store=store, secret=ctx.links.secret, zone=playbook_zone(ctx))
    app.state.web = web
    for module in AREAS:
        app.include_router(module.area.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(PREFIX, build_api(web))
    _install_refusals(app)


def check(app: FastAPI) -> None:
    """Refuse to start when a route of the application has not said who may use it."""
    check_guarded(app.routes, plain={"/static", "/openapi.json"})


def _install_refusals(app: FastAPI) -> None:
    async def not_logged_in(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):  # htmx: load the login page, not a fragment
            return Response(status_code=401, headers={"hx-redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", status=403, title="forbidden_title",
                      text="forbidden", link="/", link_text="back_home")

    async def csrf(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", status=403, title="csrf_title", text="csrf")

    async def too_many(request: Request, exc: Exception) -> Response:
        wait = exc.retry_after if isinstance(exc, TooMany) else 60
        return render(request, "message.html", status=429, title="busy_title", text="busy",
                      headers={"retry-after": str(wait)})

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", status=404, title="not_found_title",
                      text="not_found", link="/", link_text="back_home")

    async def refused(request: Request, exc: Exception) -> Response:
        problems = exc.problems if isinstance(exc, InputError) else [str(exc)]
        return render(request, "message.html", status=422, title="refused_title",
                      text="refused", problems=problems[:20], link=request.url.path.rsplit(
                          "/communities/", 1)[0] if "/communities/" in request.url.path
                      else "/", link_text="back")

    app.add_exception_handler(InputError, refused)
    app.add_exception_handler(NotLoggedIn, not_logged_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(TooMany, too_many)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(StarletteHTTPException, api_or_default)


async def api_or_default(request: Request, exc: Exception) -> Response:
    """An error of the application itself: JSON for an address under the API (a path the
    API's mount does not take, such as one with a line break), FastAPI's answer otherwise."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(PREFIX + "/"):
        status, message, headers = exc.status_code, str(exc.detail), exc.headers
        try:  # as inside the API: who is asking comes first
            await token_principal(request)
        except NotLoggedIn:
            status, message = 401, "a valid API token is needed (Authorization: Bearer ...)"
            headers = {"www-authenticate": "Bearer"}
        return JSONResponse({"error": {"status": status, "message": message}},
                            status_code=status, headers=headers)
    return await http_exception_handler(request, exc)
