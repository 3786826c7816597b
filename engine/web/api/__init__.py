"""The JSON API under /api/v1: a FastAPI application of its own (so its OpenAPI document,
/api/v1/openapi.json, describes the API routes only), with JSON errors and the same role
guards as the pages (engine.web.access.Area(api=True)), authenticated by API tokens.

To add an endpoint: in a module of this package, `area = Area(api=True, responses=ERRORS)`,
`@area.get("/path", allow=ROLES, response_model=Model)`, and include `area.router` in
`build_api`. Declare every answer's model: the tests fuzz every endpoint against the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from engine.errors import InputError, NotFoundError
from engine.web.access import (
    CsrfRefused,
    Forbidden,
    NotLoggedIn,
    TooMany,
    WebContext,
    token_principal,
)
from engine.web.bounds import TOO_LARGE, BodyTooLarge

PREFIX = "/api/v1"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status,
                        headers=headers)


def _install_errors(api: FastAPI) -> None:
    async def not_logged_in(request: Request, exc: Exception) -> JSONResponse:
        return _error(401, "a valid API token is needed (Authorization: Bearer ...)",
                      {"www-authenticate": "Bearer"})

    async def forbidden(request: Request, exc: Exception) -> JSONResponse:
        return _error(403, "this token's role may not do this")

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc)[:300])

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        problems = exc.problems if isinstance(exc, InputError) else [str(exc)]
        return _error(422, "; ".join(problems)[:1000])

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = ["/".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", ""))
                 for e in errors[:10]]
        return _error(422, "; ".join(where)[:1000] or "invalid request")

    async def too_many(request: Request, exc: Exception) -> JSONResponse:
        wait = exc.retry_after if isinstance(exc, TooMany) else 60
        return _error(429, "too many requests", {"retry-after": str(wait)})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "error"
        return _error(status, str(detail)[:300], getattr(exc, "headers", None))

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        drained = exc.drained if isinstance(exc, BodyTooLarge) else False
        return _error(413, TOO_LARGE, {} if drained else {"connection": "close"})

    api.add_exception_handler(BodyTooLarge, too_large)
    api.add_exception_handler(NotLoggedIn, not_logged_in)
    api.add_exception_handler(Forbidden, forbidden)
    api.add_exception_handler(CsrfRefused, forbidden)
    api.add_exception_handler(NotFoundError, not_found)
    api.add_exception_handler(InputError, refused)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(TooMany, too_many)
    api.add_exception_handler(HTTPException, http_error)


def build_api(web: WebContext) -> FastAPI:
    """The API application, to be mounted at PREFIX."""
    from engine.web.api import (
        actions,
        downloads,
        incidents,
        me,
        peacetime,
        registry,
        roster,
        tasks,
        tokens,
    )

    api = FastAPI(title="Verbinder API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", root_path_in_servers=False)
    api.state.web = web
    _install_errors(api)

    @api.middleware("http")
    async def token_first(request: Request, call_next: Any) -> Any:
        # Who is asking is settled before a body is read: without a live token the answer is
        # 401, never a parse or validation error that tells what the endpoint expects.
        if not request.url.path.endswith("/openapi.json"):
            try:
                await token_principal(request)
            except NotLoggedIn:
                return _error(401, "a valid API token is needed (Authorization: Bearer ...)",
                              {"www-authenticate": "Bearer"})
        return await call_next(request)
    for module in (actions, tasks, downloads, incidents, registry, peacetime, roster, tokens,
                   me):
        api.include_router(module.area.router)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = get_openapi(title=api.title, version=api.version, routes=api.routes,
                              description="Verbinder's JSON API. Every call needs an API "
                                          "token (`verbinder user token create`).")
            doc["servers"] = [{"url": PREFIX}]
            doc.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer"}}
            doc["security"] = [{"token": []}]
            api.openapi_schema = doc
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api
