"""Who may use which route: deny by default, every route opts in with its roles.

Routes of the dashboard and of the JSON API are registered through an `Area` (a router of one
area), whose `get`/`post` require `allow=`: a set of roles (engine.accounts.roles), `PUBLIC`
(login and enrolment forms) or `SECOND_FACTOR` (the page between password and TOTP). The area
puts a guard in front of the route that runs before the handler:

- a page: the session cookie must name a live session at stage `full` whose role is allowed
  (else 303 to /login, or 403); an unsafe method must carry the form's CSRF token;
- an API route: `Authorization: Bearer <token>` of a live API token whose role is allowed
  (else 401 or 403, as JSON).

`check_guarded(app)` runs when the application is built and refuses to start when any route
has not said who may use it, so a route cannot be added and forgotten. Object rules (which
community's contacts) are engine.accounts.rules, checked in the handler.

CSRF: a synchronizer token, HMAC(secret key, "csrf:" + the session cookie), so a token is good
for one session only and nothing is stored. Forms before login are bound the same way to a
random pre-session cookie (`PRE_COOKIE`). Cookies are Secure, HttpOnly, SameSite=Strict and
`__Host-` (no Domain, Path /): no other site can send them or set them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from engine.accounts.apitokens import find_api_token, touch_api_token
from engine.accounts.roles import Access, Role
from engine.accounts.rules import Principal, may_open_community
from engine.accounts.sessions import ABSOLUTE, FULL, PASSWORD, find_session, touch_session
from engine.accounts.tokens import new_secret
from engine.audit.log import act_as
from engine.errors import NotFoundError
from engine.registry.service import community_profile
from engine.web.ratelimit import KeyedLimiter, Rate

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.web.store import StoreThreads
    from engine.wiring import AppContext

SESSION_COOKIE = "__Host-vb_session"
PRE_COOKIE = "__Host-vb_pre"
LANG_COOKIE = "__Host-vb_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HASH_THREADS = 2  # argon2 hashes at once (each ~64 MiB): a login flood cannot take the machine

PUBLIC: Literal["public"] = "public"
SECOND_FACTOR: Literal["second-factor"] = "second-factor"
Allow = Access | Literal["public", "second-factor"]
ALLOW_MARK = "__verbinder_allow__"


class NotLoggedIn(Exception):
    """No (live) session or token: a page goes to the login, the API answers 401."""


class Forbidden(Exception):
    """Logged in, but this role (or this object) is not for them: 403."""

    def __init__(self, reason: str = "role") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A form without the token of this session: 403, nothing done."""


class TooMany(Exception):
    """Rate limited: 429 with Retry-After."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry after {wait:.0f} s")
        self.retry_after = max(1, math.ceil(wait))


@dataclass
class WebContext:
    """What every dashboard and API handler is handed (on `app.state.web`)."""

    ctx: AppContext
    store: StoreThreads
    secret: str
    zone: ZoneInfo
    limiters: dict[str, KeyedLimiter] = field(default_factory=dict)
    _hashing: anyio.CapacityLimiter | None = None

    def limit(self, name: str, key: str, rate: Rate) -> None:
        """Spend one request of `key` under the limit `name`; TooMany when over it."""
        limiter = self.limiters.get(name)
        if limiter is None:
            limiter = self.limiters.setdefault(name, KeyedLimiter(rate, self.ctx.clock))
        wait = limiter.take(key)
        if wait is not None:
            raise TooMany(wait)

    async def hashing(self, work: Callable[[], Any]) -> Any:
        """Run password hashing in a thread, at most HASH_THREADS at once."""
        if self._hashing is None:
            self._hashing = anyio.CapacityLimiter(HASH_THREADS)
        return await anyio.to_thread.run_sync(work, limiter=self._hashing)


def web_of(request: Request) -> WebContext:
    """The WebContext of the application serving this request."""
    return request.app.state.web


def principal_of(request: Request) -> Principal:
    """The principal the route's guard let in (routes with roles only)."""
    return request.state.principal


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it (X-Forwarded-For from 127.0.0.1 only)."""
    return request.client.host if request.client else "?"


# --- CSRF and cookies --------------------------------------------------------------------------


def csrf_token(secret: str, binding: str) -> str:
    """The CSRF token of a session (or pre-session) cookie."""
    mac = hmac.new(secret.encode(), b"csrf:" + binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


async def check_csrf(request: Request, secret: str, binding: str | None) -> None:
    """Refuse an unsafe request whose form field or header is not the binding's token."""
    if binding is None:
        raise CsrfRefused()
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode(), csrf_token(secret, binding).encode()):
        raise CsrfRefused()


def set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    """A Secure, HttpOnly, SameSite=Strict cookie for the whole site (browsers keep Secure
    cookies of http://localhost and 127.0.0.1 too, so development needs no TLS)."""
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="strict")


def set_session_cookie(response: Response, cookie: str) -> None:
    """Hand the browser its (new) session cookie; it lasts at most one absolute timeout."""
    set_cookie(response, SESSION_COOKIE, cookie, max_age=int(ABSOLUTE.total_seconds()))


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    set_cookie(response, SESSION_COOKIE, "", max_age=0)


def pending_cookies(request: Request, response: Response) -> Response:
    """Set the cookies a guard decided on (a new pre-session cookie) on the response."""
    pre = getattr(request.state, "new_pre", None)
    if pre is not None:
        set_cookie(response, PRE_COOKIE, pre, max_age=86400)
    return response


# --- the guards -------------------------------------------------------------------------------


async def _session_view(request: Request) -> Any:
    web = web_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    now = web.ctx.clock.now()
    view = await web.store.read(lambda s: find_session(s, cookie=cookie, now=now))
    if view is not None and view.needs_touch(now):
        await web.store.write(lambda s: touch_session(s, id_hash=view.id_hash, now=now))
    return view


def _page_guard(allow: Allow) -> Callable[[Request], Any]:
    async def guard(request: Request) -> None:
        web = web_of(request)
        if allow == PUBLIC:
            binding = request.cookies.get(PRE_COOKIE)
            if request.method in UNSAFE:
                await check_csrf(request, web.secret, binding)
            elif not binding or len(binding) > 100:
                binding = request.state.new_pre = new_secret()
            request.state.csrf = csrf_token(web.secret, binding or "")
            return
        view = await _session_view(request)
        wanted = PASSWORD if allow == SECOND_FACTOR else FULL
        if view is None or view.stage != wanted:
            raise NotLoggedIn()
        if allow != SECOND_FACTOR and view.principal.role not in allow:
            raise Forbidden()
        cookie = request.cookies[SESSION_COOKIE]
        if request.method in UNSAFE:
            await check_csrf(request, web.secret, cookie)
        # Half logged in is not logged in: the layout shows no menu for it.
        setattr(request.state, "half" if allow == SECOND_FACTOR else "principal",
                view.principal)
        request.state.csrf = csrf_token(web.secret, cookie)
        # what the request changes is audited as this account, from this address
        act_as(view.principal.actor, client_address(request))
    return guard


async def token_principal(request: Request) -> Principal:
    """The principal of the request's API token (NotLoggedIn without a live one); looked up
    once per request (the API checks it before a body is read, the route's guard reuses it)."""
    cached = getattr(request.state, "token_principal", None)
    if cached is not None:
        return cached
    web = web_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotLoggedIn()
    now = web.ctx.clock.now()
    found = await web.store.read(lambda s: find_api_token(s, token=token.strip(), now=now))
    if found is None:
        raise NotLoggedIn()
    principal, stale = found
    if stale:
        await web.store.write(lambda s: touch_api_token(s, token_id=principal.id, now=now))
    request.state.token_principal = principal
    return principal


def _api_guard(allow: Allow) -> Callable[[Request], Any]:
    async def guard(request: Request) -> None:
        if allow == PUBLIC:
            return
        principal = await token_principal(request)
        if allow == SECOND_FACTOR or principal.role not in allow:
            raise Forbidden()
        request.state.principal = principal
        act_as(principal.actor, client_address(request))
    return guard


class Area:
    """The routes of one area (a page group, or a part of the API): each says who may use it.

    `area.get(path, allow=COORDINATORS)` registers a handler behind the guard of that access;
    without `allow=` it is a TypeError, and a route added to the application any other way
    stops the application from starting (check_guarded).
    """

    def __init__(self, *, api: bool = False, prefix: str = "", **router: Any) -> None:
        self.api = api
        self.router = APIRouter(prefix=prefix, **router)

    def get(self, path: str, *, allow: Allow, **kwargs: Any) -> Callable[[Any], Any]:
        """Register a GET handler for those allowed."""
        return self.route(path, ["GET"], allow=allow, **kwargs)

    def post(self, path: str, *, allow: Allow, **kwargs: Any) -> Callable[[Any], Any]:
        """Register a POST handler for those allowed (pages: with the CSRF check)."""
        return self.route(path, ["POST"], allow=allow, **kwargs)

    def route(self, path: str, methods: list[str], *, allow: Allow, **kwargs: Any
              ) -> Callable[[Any], Any]:
        """Register a handler for these methods behind the guard of `allow`."""
        _check_allow(allow)
        guard = _api_guard(allow) if self.api else _page_guard(allow)

        def register(endpoint: Any) -> Any:
            setattr(endpoint, ALLOW_MARK, allow)
            self.router.add_api_route(path, endpoint, methods=methods,
                                      dependencies=[Depends(guard)], **kwargs)
            return endpoint
        return register


def _check_allow(allow: Allow) -> None:
    if allow in (PUBLIC, SECOND_FACTOR):
        return
    if not isinstance(allow, frozenset) or not allow or not all(isinstance(r, Role)
                                                                 for r in allow):
        raise TypeError(f"allow= must be PUBLIC, SECOND_FACTOR or a set of roles, not {allow!r}")


def declare_public(app: FastAPI, paths: Iterable[str]) -> None:
    """Mark routes that protect themselves (signed webhooks, link tokens, the health check)
    as open to anyone; check_guarded then lets them through."""
    wanted = set(paths)
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path in wanted:
            setattr(route.endpoint, ALLOW_MARK, PUBLIC)


def check_guarded(routes: Iterable[BaseRoute], *, plain: Iterable[str] = ()) -> None:
    """Refuse to start when a route has not said who may use it (deny by default).

    `plain` names the non-API routes allowed without a guard (the static files, the API's
    OpenAPI document); included routers and mounted applications are checked route by route,
    and a kind of route this does not know is refused too.
    """
    unguarded = [f"{sorted(r.methods or [])} {path}" if isinstance(r, APIRoute) else path
                 for path, r in walk_routes(routes, plain=set(plain))
                 if not isinstance(r, APIRoute) or not hasattr(r.endpoint, ALLOW_MARK)]
    if unguarded:
        raise RuntimeError("routes that do not say who may use them (register them through an "
                           "engine.web.access.Area): " + ", ".join(unguarded))


def walk_routes(routes: Iterable[BaseRoute], *, plain: set[str] | None = None,
                prefix: str = "") -> Iterable[tuple[str, BaseRoute]]:
    """Every route with its full path, through included routers and mounted applications;
    routes named in `plain` are left out."""
    plain = plain or set()
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        if path in plain or getattr(route, "path", None) in plain:
            continue
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from walk_routes(included.routes, plain=plain, prefix=prefix)
        elif isinstance(route, Mount) and getattr(route.app, "routes", None) is not None:
            yield from walk_routes(route.app.routes, plain=plain, prefix=path)
        else:
            yield path, route


def opened_community(session: Session, who: Principal, community_id: str) -> dict[str, Any]:
    """A community's profile for a page or an API call, if this principal may open it
    (NotFoundError when unknown, Forbidden when it is another liaison's)."""
    profile = community_profile(session=session, community_id=community_id)
    if profile is None:
        raise NotFoundError(f"community {community_id[:200]!r}: not in the registry")
    if not may_open_community(who, profile["liaison"]):
        raise Forbidden("community")
    return profile
