"""The HTTP side: Twilio webhooks, acknowledgement links and the needs-intake page.

Pages work without JavaScript, are mobile-first and right-to-left for Arabic. Links carry an
opaque token only; no name, phone or community is ever in a URL.

The event loop never waits for the database: every handler does its store work in a thread,
reads and writes on thread budgets of their own, and reads in read-only transactions (on SQLite
they take no write lock), so a long write elsewhere (a declaration) holds up no page that only
reads, and a writer waiting for SQLite's lock holds up nothing else. Bodies are bounded before
they are read (engine.web.bounds) and every response carries the headers of engine.web.headers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.types import ASGIApp

from engine.inbound.links import CLOSED, GONE, LinkView, acknowledge_link, answer_link, view_link
from engine.inbound.service import apply_inbound_text, apply_status
from engine.links import tokens
from engine.web import dashboard
from engine.web.access import declare_public
from engine.web.bounds import FORM_TYPE, TOO_LARGE, BodyTooLarge, BoundedBodies, media_type
from engine.web.headers import STYLE, SecurityHeaders
from engine.web.i18n import RTL, page_text
from engine.web.ratelimit import KeyedLimiter, Rate
from engine.web.store import StoreThreads
from engine.wiring import INBOUND_PATH, STATUS_PATH, AppContext
from notifiers.twilio_webhooks import (
    SIGNATURE_HEADER,
    parse_inbound_sms,
    parse_status_callback,
    verify_signature,
)

log = logging.getLogger(__name__)
_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
T = TypeVar("T")

# Every request to a link, per client address (after uvicorn's proxy-header handling).
PER_ADDRESS = Rate(burst=60, every=timedelta(seconds=1))
# Submissions through one link: a person corrects an answer a few times, not hundreds.
PER_LINK = Rate(burst=10, every=timedelta(minutes=1))
TEXT_ANSWER_CHARS = 2000
NOT_A_FORM = "Alleen formulieren / only application/x-www-form-urlencoded is accepted"


def create_app(ctx: AppContext) -> ASGIApp:
    """The web application on one AppContext (store, clock, channels, settings), wrapped in
    the body bounds and the security headers."""
    app = FastAPI(title="Verbinder", docs_url=None, redoc_url=None, openapi_url=None)
    _ = ctx.engine  # opened and migrated now, not on the event loop of the first request
    secret = ctx.links.secret
    store = StoreThreads(ctx)
    by_address = KeyedLimiter(PER_ADDRESS, ctx.clock)
    by_link = KeyedLimiter(PER_LINK, ctx.clock)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> Response:
        # here, not in the bounds' own middleware: the framework would answer 500 first
        return PlainTextResponse(TOO_LARGE, status_code=413,
                                 headers={} if exc.drained else {"connection": "close"})

    async def verified_form(request: Request, path: str) -> dict[str, str] | None:
        form = {k: str(v) for k, v in (await request.form()).multi_items()}
        url = ctx.settings.public_url.rstrip("/") + path
        if request.url.query:
            url += "?" + request.url.query
        tokens_ = [ctx.settings.twilio_auth_token or "",
                   ctx.settings.twilio_auth_token_secondary or ""]
        if not verify_signature(url, form, request.headers.get(SIGNATURE_HEADER), tokens_):
            log.warning("refused a webhook on %s: bad or missing signature", path)
            return None
        return form

    async def webhook(request: Request, path: str, parse: Callable[[dict[str, str]], Any],
                      apply: Callable[[Session, Any], str]) -> Response | str:
        """Verify, parse, then apply in a store thread."""
        if not _is_form(request):
            return PlainTextResponse(NOT_A_FORM, status_code=415)
        form = await verified_form(request, path)
        if form is None:
            return PlainTextResponse("forbidden", status_code=403)
        try:
            parsed = parse(form)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        outcome = await store.write(lambda session: apply(session, parsed))
        log.info("webhook %s: %s", path, outcome)
        return outcome

    @app.post(STATUS_PATH)
    async def twilio_status(request: Request) -> Response:
        ref = request.query_params.get("ref")
        outcome = await webhook(request, STATUS_PATH, parse_status_callback, lambda s, e: (
            apply_status(session=s, event=e, now=ctx.clock.now(), fallback=ctx.fallback,
                         reference=ref)))
        return outcome if isinstance(outcome, Response) else Response(status_code=204)

    @app.post(INBOUND_PATH)
    async def twilio_inbound(request: Request) -> Response:
        outcome = await webhook(request, INBOUND_PATH, parse_inbound_sms, lambda s, t: (
            apply_inbound_text(session=s, text=t, now=ctx.clock.now())))
        if isinstance(outcome, Response):
            return outcome
        return Response(_EMPTY_TWIML, media_type="application/xml")

    def admit(request: Request, token: str, *, writing: bool) -> Response | None:
        """The refusal of a link request before any look-up: too many from this address, a
        token without our signature, too many submissions through this link."""
        address = request.client.host if request.client else "?"
        wait = by_address.take(address)
        if wait is None and not tokens.signature_ok(secret, token):
            return _page("gone.html", "nl", status=410)
        if wait is None and writing:
            wait = by_link.take(tokens.token_hash(token))
        if wait is None:
            return None
        return _page("busy.html", "nl", status=429,
                     headers={"retry-after": str(max(1, math.ceil(wait)))})

    async def view(token: str, purpose: str) -> LinkView | None:
        return await store.read(partial(view_link, secret=secret, token=token, purpose=purpose,
                                        now=ctx.clock.now()))

    @app.get("/a/{token}", response_class=HTMLResponse)
    async def ack_page(token: str, request: Request) -> Response:
        refused = admit(request, token, writing=False)
        if refused is not None:
            return refused
        link = await view(token, "ack")
        if link is None:
            return _page("gone.html", "nl", status=410)
        return _page("ack.html", link.locale, done=link.used, closed=link.closed)

    @app.post("/a/{token}", response_class=HTMLResponse)
    async def ack_submit(token: str, request: Request) -> Response:
        refused = admit(request, token, writing=True)
        if refused is not None:
            return refused
        outcome, locale = await store.write(partial(acknowledge_link, secret=secret,
                                                    token=token, now=ctx.clock.now()))
        if outcome == GONE:
            return _page("gone.html", "nl", status=410)
        if outcome == CLOSED:
            return _page("ack.html", locale, status=409, closed=True)
        return _page("ack.html", locale, done=True, closed=False)

    @app.get("/i/{token}", response_class=HTMLResponse)
    async def intake_page(token: str, request: Request) -> Response:
        refused = admit(request, token, writing=False)
        if refused is not None:
            return refused
        link = await view(token, "intake")
        if link is None:
            return _page("gone.html", "nl", status=410)
        return _intake(link, errors=[])

    @app.post("/i/{token}", response_class=HTMLResponse)
    async def intake_submit(token: str, request: Request) -> Response:
        # The token first (signature, then the database), the form after.
        refused = admit(request, token, writing=True)
        if refused is not None:
            return refused
        link = await view(token, "intake")
        if link is None:
            return _page("gone.html", "nl", status=410)
        if link.closed:
            return _intake(link, errors=[], status=409)
        if not _is_form(request):
            return PlainTextResponse(NOT_A_FORM, status_code=415)
        answers, errors = read_answers(link.form, await request.form())
        if errors:
            return _intake(link, errors=errors, status=422)
        outcome = await store.write(partial(answer_link, secret=secret, token=token,
                                            answers=answers, now=ctx.clock.now()))
        if outcome == GONE:
            return _page("gone.html", "nl", status=410)
        if outcome == CLOSED:
            return _intake(link, errors=[], status=409, closed=True)
        return _page("thanks.html", link.locale)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Signed webhooks and link tokens protect themselves; every other route needs an account.
    declare_public(app, (STATUS_PATH, INBOUND_PATH, "/a/{token}", "/i/{token}", "/healthz"))
    dashboard.install(app, ctx, store)
    dashboard.check(app)
    return SecurityHeaders(BoundedBodies(app))


def _is_form(request: Request) -> bool:
    """A posted HTML form (or nothing at all, which reads as an empty form)."""
    return media_type(request.headers.get("content-type")) in (FORM_TYPE, "")


def read_answers(form: Any, data: Any) -> tuple[dict[str, Any], list[str]]:
    """The answers of a posted intake form, checked against the form's questions.

    Only text values count (a file field is no answer); a multiple choice keeps the form's
    order without repeats, so that the same choice twice is the same answer.
    """
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for q in form.questions:
        valid = [o.id for o in q.options]
        values = [v for v in data.getlist(q.id) if isinstance(v, str)]
        if q.type == "multi":
            chosen = [o for o in valid if o in values]
            if chosen:
                answers[q.id] = chosen
        elif q.type == "choice":
            if values and values[0] in valid:
                answers[q.id] = values[0]
        elif q.type == "bool":
            if values and values[0] in ("yes", "no"):
                answers[q.id] = values[0] == "yes"
        else:
            value = (values[0] if values else "").strip()
            if value:
                answers[q.id] = value[:TEXT_ANSWER_CHARS]
        if q.required and q.id not in answers:
            errors.append(q.id)
    if not answers and not errors:
        errors.append("")
    return answers, errors


def _intake(link: LinkView, *, errors: list[str], status: int = 200,
            closed: bool | None = None) -> Response:
    locale = link.locale

    def t(labels: dict[str, str]) -> str:
        return labels.get(locale) or labels.get("en") or labels.get(link.default_locale) \
            or next(iter(labels.values()), "")

    return _page("intake.html", locale, status=status, form=link.form, t=t, errors=errors,
                 communities=link.communities, municipality=link.municipality,
                 done=link.used, current=link.current,
                 closed=link.closed if closed is None else closed)


def _page(name: str, locale: str, status: int = 200, headers: dict[str, str] | None = None,
          **context: Any) -> HTMLResponse:
    html = _pages.get_template(name).render(
        lang=locale, dir="rtl" if locale in RTL else "ltr", text=page_text(locale),
        style=STYLE, **context
    )
    return HTMLResponse(html, status_code=status, headers=headers)
