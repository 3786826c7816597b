"""The HTTP side: Twilio webhooks, acknowledgement links and the needs-intake page.

Pages work without JavaScript, are mobile-first and right-to-left for Arabic. Links carry an
opaque token only; no name, phone or community is ever in a URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from engine.inbound import tokens
from engine.inbound.service import apply_inbound_text, apply_status, record_intake
from engine.incidents.flows import acknowledge
from engine.incidents.frozen import playbook_of
from engine.store.db import session_scope
from engine.store.models import Community, Incident, IntakeToken
from engine.web.i18n import RTL, page_text
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


def create_app(ctx: AppContext) -> FastAPI:
    """The web application on one AppContext (store, clock, channels, settings)."""
    app = FastAPI(title="Verbinder", docs_url=None, redoc_url=None, openapi_url=None)

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
                      apply: Callable[[Any, Any], str]) -> Response | str:
        """Verify, parse, then apply in a worker thread (the store is synchronous)."""
        form = await verified_form(request, path)
        if form is None:
            return PlainTextResponse("forbidden", status_code=403)
        try:
            parsed = parse(form)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)

        def run() -> str:
            with session_scope(ctx.engine) as session:
                return apply(session, parsed)

        outcome = await run_in_threadpool(run)
        log.info("webhook %s: %s", path, outcome)
        return outcome

    @app.post(STATUS_PATH)
    async def twilio_status(request: Request) -> Response:
        ref = request.query_params.get("ref")
        outcome = await webhook(request, STATUS_PATH, parse_status_callback, lambda s, e: (
            apply_status(s, e, now=ctx.clock.now(), fallback=ctx.fallback, reference=ref)))
        return outcome if isinstance(outcome, Response) else Response(status_code=204)

    @app.post(INBOUND_PATH)
    async def twilio_inbound(request: Request) -> Response:
        outcome = await webhook(request, INBOUND_PATH, parse_inbound_sms, lambda s, t: (
            apply_inbound_text(s, t, now=ctx.clock.now())))
        if isinstance(outcome, Response):
            return outcome
        return Response(_EMPTY_TWIML, media_type="application/xml")

    @app.get("/a/{token}", response_class=HTMLResponse)
    def ack_page(token: str) -> Response:
        with session_scope(ctx.engine) as session:
            row = tokens.resolve(session, secret=ctx.links.secret, token=token, purpose="ack",
                                 now=ctx.clock.now())
            if row is None:
                return _page("gone.html", "nl", status=410)
            return _page("ack.html", row.locale, done=row.used_at is not None)

    @app.post("/a/{token}", response_class=HTMLResponse)
    def ack_submit(token: str) -> Response:
        now = ctx.clock.now()
        with session_scope(ctx.engine) as session:
            row = tokens.resolve(session, secret=ctx.links.secret, token=token, purpose="ack",
                                 now=now)
            if row is None:
                return _page("gone.html", "nl", status=410)
            _acknowledge_by_link(session, row, now)
            return _page("ack.html", row.locale, done=True)

    @app.get("/i/{token}", response_class=HTMLResponse)
    def intake_page(token: str) -> Response:
        with session_scope(ctx.engine) as session:
            row = tokens.resolve(session, secret=ctx.links.secret, token=token,
                                 purpose="intake", now=ctx.clock.now())
            if row is None:
                return _page("gone.html", "nl", status=410)
            return _intake(session, row, errors=[])

    @app.post("/i/{token}", response_class=HTMLResponse)
    async def intake_submit(token: str, request: Request) -> Response:
        form = await request.form()
        now = ctx.clock.now()
        with session_scope(ctx.engine) as session:
            row = tokens.resolve(session, secret=ctx.links.secret, token=token,
                                 purpose="intake", now=now)
            if row is None:
                return _page("gone.html", "nl", status=410)
            incident = session.get(Incident, row.incident_id)
            intake_form = playbook_of(incident).intake_forms[row.form_id]
            answers, errors = read_answers(intake_form, form)
            if errors:
                return _intake(session, row, errors=errors, status=422)
            record_intake(session, incident_id=row.incident_id,
                          community_ids=list(row.community_ids),
                          contact_id=row.recipient_id, form_id=row.form_id, answers=answers,
                          source="web", now=now)
            row.used_at = now
            return _page("thanks.html", row.locale)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _acknowledge_by_link(session: Any, row: IntakeToken, now: Any) -> None:
    by = f"{row.recipient_kind}:{row.recipient_id}"
    open_ids = list(row.community_ids)
    incident = session.get(Incident, row.incident_id)
    if incident is not None and incident.status == "open":
        acknowledge(session, incident_id=row.incident_id, community_ids=open_ids, by=by,
                    now=now, via="link")
    row.used_at = row.used_at or now


def read_answers(form: Any, data: Any) -> tuple[dict[str, Any], list[str]]:
    """The answers of a posted intake form, checked against the form's questions."""
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for q in form.questions:
        valid = {o.id for o in q.options}
        if q.type == "multi":
            chosen = [v for v in data.getlist(q.id) if v in valid]
            if chosen:
                answers[q.id] = chosen
        elif q.type == "choice":
            value = data.get(q.id)
            if value in valid:
                answers[q.id] = value
        elif q.type == "bool":
            value = data.get(q.id)
            if value in ("yes", "no"):
                answers[q.id] = value == "yes"
        else:
            value = (data.get(q.id) or "").strip()
            if value:
                answers[q.id] = value[:2000]
        if q.required and q.id not in answers:
            errors.append(q.id)
    if not answers and not errors:
        errors.append("")
    return answers, errors


def _intake(session: Any, row: IntakeToken, *, errors: list[str], status: int = 200) -> Response:
    incident = session.get(Incident, row.incident_id)
    playbook = playbook_of(incident)
    form = playbook.intake_forms[row.form_id]
    names = [c.name for c in (session.get(Community, i) for i in row.community_ids) if c]
    locale = row.locale

    def t(labels: dict[str, str]) -> str:
        return labels.get(locale) or labels.get("en") or labels.get(playbook.default_locale) \
            or next(iter(labels.values()), "")

    return _page("intake.html", locale, status=status, form=form, t=t, errors=errors,
                 communities=names, municipality=playbook.name, done=row.used_at is not None)


def _page(name: str, locale: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _pages.get_template(name).render(
        lang=locale, dir="rtl" if locale in RTL else "ltr", text=page_text(locale), **context
    )
    return HTMLResponse(html, status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                 "X-Robots-Tag": "noindex"})
