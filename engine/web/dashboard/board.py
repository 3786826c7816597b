"""The incident board: per community its role, who was tried and how, its status and next
step, live (htmx polls the board's fragment); filters by role and status; acknowledge or take
over on someone's behalf; the timeline; close.

The page and its fragment are one route: a request from htmx (`HX-Request`) gets the
fragment, which carries its own polling attribute with the filters, so a swap keeps both.
Inputs the coordinator is busy with (the contacts opened, a chosen staff member) keep their
state across swaps (`hx-preserve`, keyed by a digest of the community id).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlmodel import Session

from engine.accounts.roles import COORDINATORS, EVERYONE, RESPONDERS
from engine.accounts.rules import Principal, may_act_for, may_see_contacts
from engine.errors import InputError, NotFoundError
from engine.incidents import service
from engine.incidents.board import STATUSES
from engine.registry.directory import liaisons_of, staff_choices
from engine.web.access import CSRF_FIELD, Area, Forbidden, pending_cookies, principal_of, web_of
from engine.web.dashboard.render import language_of, render
from engine.web.headers import DASHBOARD_MARK

area = Area()
INCIDENT_IDS = 2**31 - 1
POLL_SECONDS = 4
MAX_ID = 200
# What the board's version does not see (a renamed community, a new liaison, staff) shows
# within this many seconds.
DOC_SECONDS = 15.0
KEPT_BOARDS = 16
KEPT_FRAGMENTS = 64
KEPT_ROWS = 5_000  # rendered rows across versions (~3 KB each with its key): 500 rows x 10 views



@dataclass
class Kept:
    """One application's kept boards and fragments (per app, not per process: tests serve
    several stores from one process, where incident 1 and its version repeat)."""

    docs: dict[int, tuple[str, float, dict[str, Any]]] = field(default_factory=dict)
    fragments: dict[tuple[Any, ...], str] = field(default_factory=dict)
    rows: dict[tuple[Any, ...], str] = field(default_factory=dict)


_KEEPING = threading.Lock()  # the store's read threads add to the same dictionaries


def _keep(kept: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    with _KEEPING:
        while len(kept) >= most:
            kept.pop(next(iter(kept)))
        kept[key] = value


def kept_of(request: Request) -> Kept:
    """The application's kept boards and fragments."""
    kept = getattr(request.app.state, "kept_boards", None)
    if kept is None:
        kept = request.app.state.kept_boards = Kept()
    return kept

# Stands for the viewer's CSRF token in a kept fragment; random per process, so no text a
# community could send (names, answers) can be it.
_CSRF_MARK = "csrf-" + secrets.token_hex(16)


def _checked_id(incident_id: int) -> None:
    if not 0 < incident_id <= INCIDENT_IDS:
        raise NotFoundError(f"incident {incident_id}: no such incident")


def _filter(value: str | None, allowed: set[str] | tuple[str, ...]) -> str | None:
    return value if value and value in allowed else None


@lru_cache(maxsize=65536)
def quoted(community_id: str) -> str:
    """A community id in a URL's path (as Jinja's urlencode writes it, once per id)."""
    return quote(community_id, safe="/")


@lru_cache(maxsize=65536)
def community_key(community_id: str) -> str:
    """A short, HTML-safe id for a community's elements on the page."""
    return "c" + hashlib.blake2s(community_id.encode(), digest_size=6).hexdigest()


def _board_doc(session: Session, incident_id: int, docs: dict[int, Any], now: datetime
               ) -> tuple[dict[str, Any], datetime]:
    """The incident's board, read again only when its version moved (or the copy is older
    than DOC_SECONDS): everyone watching an incident shares one reading per change."""
    version = service.board_version(session=session, incident_id=incident_id)
    kept = docs.get(incident_id)
    if kept is not None and kept[0] == version and 0 <= (now - kept[1]).total_seconds() \
            < DOC_SECONDS:
        return kept[2], kept[1]
    doc = service.incident_board(session=session, incident_id=incident_id)
    # kept under its own version, read before the rows: the rows are never older than it
    read = now
    _keep(docs, incident_id, (doc["version"], read, doc), KEPT_BOARDS)
    return doc, read


def _board_page(session: Session, incident_id: int, who: Principal, role: str | None,
                status: str | None, kept: Kept, now: datetime) -> dict[str, Any]:
    doc, read = _board_doc(session, incident_id, kept.docs, now)
    role = _filter(role, set(doc["roles"]))
    status = _filter(status, STATUSES)
    # rows of this view: the shared board is never changed (others read it at the same time)
    rows = [{**c, "key": community_key(c["id"]), "qid": quoted(c["id"]),
             "visible": may_see_contacts(who, c["liaison"]),
             "may_act": who.role in RESPONDERS and may_act_for(who, c["liaison"])}
            for c in doc["communities"]
            if (not role or c["role"] == role) and (not status or c["board_status"] == status)]
    open_ = doc["incident"]["status"] == "open"
    staff = staff_choices(session) if open_ and any(c["may_act"] for c in rows) else []
    return {"doc": {**doc, "communities": rows}, "role_filter": role, "status_filter": status,
            "statuses": STATUSES, "replies_visible": may_see_contacts(who, None),
            "staff": staff, "poll": POLL_SECONDS, "read": read}


def _fragment_key(request: Request, who: Principal, page: dict[str, Any]) -> tuple[Any, ...]:
    """What a board fragment depends on besides its CSRF token: the board's version (and
    when it was read: a new reading after DOC_SECONDS renders anew), the page's language,
    the filters, and who looks (role and staff member decide which rows show free text and
    buttons, and who is preselected)."""
    doc = page["doc"]
    return (doc["incident"]["id"], doc["version"], page["read"], language_of(request), who.role,
            who.staff_id, page["role_filter"], page["status_filter"])


def _fragment(request: Request, who: Principal, page: dict[str, Any]) -> Response:
    """The board's fragment for htmx (see _fragment_html)."""
    response = HTMLResponse(_fragment_html(request, who, page))
    response.headers[DASHBOARD_MARK] = "1"
    return pending_cookies(request, response)


def _fragment_html(request: Request, who: Principal, page: dict[str, Any]) -> str:
    """The board's fragment, rendered once per version and kind of viewer; each viewer's own
    CSRF token is put in (the one thing personal to the session in it)."""
    key = _fragment_key(request, who, page)
    kept = kept_of(request)
    fragments = kept.fragments
    html = fragments.get(key)
    if html is None:
        rows = kept.rows
        # a row's HTML depends on its data (the viewer's `visible`, `may_act` included), the
        # language, the incident and whether anyone can be chosen to take over
        prefix = (key[0], key[3], page["doc"]["incident"]["status"], bool(page["staff"]))

        def row_kept(c: dict[str, Any]) -> Markup | None:
            found = rows.get((prefix, repr(c)))
            return Markup(found) if found is not None else None

        def keep_row(c: dict[str, Any], row: Markup) -> Markup:
            _keep(rows, (prefix, repr(c)), str(row), KEPT_ROWS)
            return row

        field_ = Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD,
                                                                             _CSRF_MARK)
        blank = render(request, "board.html", only_fragment=True, csrf=_CSRF_MARK,
                       csrf_field=lambda: field_, row_kept=row_kept, keep_row=keep_row,
                       **page)
        html = bytes(blank.body).decode()
        _keep(fragments, key, html, KEPT_FRAGMENTS)
    token = str(escape(getattr(request.state, "csrf", "")))
    return html.replace(_CSRF_MARK, token)


@area.get("/incidents/{incident_id}", allow=EVERYONE)
async def board_page(request: Request, incident_id: int, role: str | None = None,
                     status: str | None = None, v: str | None = None) -> Response:
    """The incident's board (for htmx: its live fragment; 204, and nothing swapped, when the
    poll's version `v` is still the board's)."""
    _checked_id(incident_id)
    who = principal_of(request)
    store = web_of(request).store
    if v and request.headers.get("hx-request"):
        now = await store.read(lambda s: service.board_version(session=s,
                                                               incident_id=incident_id))
        if now == v:
            return Response(status_code=204)
    kept = kept_of(request)
    now = web_of(request).ctx.clock.now()
    page = await store.read(lambda s: _board_page(s, incident_id, who, role, status, kept,
                                                  now))
    if request.headers.get("hx-request"):
        return _fragment(request, who, page)
    # the page around the same kept fragment (the header, filters and downloads are small)
    return render(request, "board.html", fragment_html=Markup(_fragment_html(request, who, page)),
                  **page)


def _act(session: Session, *, incident_id: int, community_id: str, who: Principal,
         what: str, staff_id: str | None, note: str | None, now: Any) -> list[str]:
    liaison = liaisons_of(session, [community_id]).get(community_id)
    if not may_act_for(who, liaison):
        raise Forbidden("community")
    if what == "take-over":
        known = {s for s, _ in staff_choices(session)}
        if not staff_id or staff_id not in known:
            raise InputError(f"staff: '{(staff_id or '')[:MAX_ID]}' is not an active staff member")
        return service.take_over(session=session, incident_id=incident_id,
                                 community_ids=[community_id], staff_id=staff_id, now=now,
                                 via="dashboard")
    by = f"staff:{who.staff_id}" if who.staff_id else f"staff:{who.actor}"
    return service.acknowledge(session=session, incident_id=incident_id,
                               community_ids=[community_id], by=by, now=now, via="dashboard",
                               note=note)


def _tick(session: Session, *, incident_id: int, community_id: str, task_id: str,
          who: Principal, undo: bool, now: Any) -> bool:
    """Tick a task done (or open it again) for a community the principal may act for; an
    incident task (no community) by coordinators and on-call staff."""
    liaison = liaisons_of(session, [community_id]).get(community_id) if community_id else None
    if not may_act_for(who, liaison):
        raise Forbidden("community")
    return service.tick_task(session=session, incident_id=incident_id, task_id=task_id,
                             community_id=community_id or None, by=who.actor, now=now,
                             undo=undo)


@area.post("/incidents/{incident_id}/act", allow=RESPONDERS)
async def act(request: Request, incident_id: int) -> Response:
    """A row's button: acknowledge (`ack=COMMUNITY`) or take over for the chosen staff member
    (`take_over=COMMUNITY`, `staff=ID`) on someone's behalf, or tick a task
    (`tick|untick=COMMUNITY/TASK`, COMMUNITY empty for an incident task); then the board
    again (htmx: its fragment, with the filters of the query)."""
    _checked_id(incident_id)
    web, who = web_of(request), principal_of(request)
    form = await request.form()
    now = web.ctx.clock.now()
    tick, untick = form.get("tick"), form.get("untick")
    if isinstance(tick, str) or isinstance(untick, str):
        value = tick if isinstance(tick, str) else str(untick)
        community, _, task = value[:2 * MAX_ID].rpartition("/")
        await web.store.write(lambda s: _tick(
            s, incident_id=incident_id, community_id=community, task_id=task, who=who,
            undo=not isinstance(tick, str), now=now))
    else:
        ack, take = form.get("ack"), form.get("take_over")
        what, community = ("ack", ack) if isinstance(ack, str) else ("take-over", take)
        if not isinstance(community, str) or not community or len(community) > MAX_ID:
            raise InputError("choose a community's button (ack, take over or a task)")
        staff = form.get("staff")
        staff_id = staff if isinstance(staff, str) and staff else who.staff_id
        await web.store.write(lambda s: _act(
            s, incident_id=incident_id, community_id=community, who=who, what=what,
            staff_id=staff_id, note=None, now=now))
    if request.headers.get("hx-request"):
        kept = kept_of(request)
        page = await web.store.read(lambda s: _board_page(
            s, incident_id, who, request.query_params.get("role"),
            request.query_params.get("status"), kept, now))
        return _fragment(request, who, page)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@area.post("/incidents/{incident_id}/close", allow=COORDINATORS)
async def close(request: Request, incident_id: int) -> Response:
    """Close the incident (timers stop, the record stays); back to its board."""
    _checked_id(incident_id)
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    await web.store.write(lambda s: service.close(session=s, incident_id=incident_id, now=now,
                                                  actor=who.actor))
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
