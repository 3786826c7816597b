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
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from engine.accounts.roles import COORDINATORS, EVERYONE, RESPONDERS
from engine.accounts.rules import Principal, may_act_for, may_see_contacts
from engine.errors import InputError, NotFoundError
from engine.incidents import service
from engine.incidents.board import STATUSES
from engine.registry.directory import liaisons_of, staff_choices
from engine.web.access import Area, Forbidden, principal_of, web_of
from engine.web.dashboard.render import render

area = Area()
INCIDENT_IDS = 2**31 - 1
POLL_SECONDS = 4
MAX_ID = 200


def _checked_id(incident_id: int) -> None:
    if not 0 < incident_id <= INCIDENT_IDS:
        raise NotFoundError(f"incident {incident_id}: no such incident")


def _filter(value: str | None, allowed: set[str] | tuple[str, ...]) -> str | None:
    return value if value and value in allowed else None


def community_key(community_id: str) -> str:
    """A short, HTML-safe id for a community's elements on the page."""
    return "c" + hashlib.blake2s(community_id.encode(), digest_size=6).hexdigest()


def _board_page(session: Session, incident_id: int, who: Principal, role: str | None,
                status: str | None) -> dict[str, Any]:
    doc = service.incident_board(session=session, incident_id=incident_id)
    role = _filter(role, set(doc["roles"]))
    status = _filter(status, STATUSES)
    if role or status:
        doc["communities"] = [c for c in doc["communities"]
                              if (not role or c["role"] == role)
                              and (not status or c["board_status"] == status)]
    liaisons = liaisons_of(session, [c["id"] for c in doc["communities"]])
    for c in doc["communities"]:
        c["key"] = community_key(c["id"])
        c["visible"] = may_see_contacts(who, liaisons.get(c["id"]))
        c["may_act"] = who.role in RESPONDERS and may_act_for(who, liaisons.get(c["id"]))
    open_ = doc["incident"]["status"] == "open"
    staff = staff_choices(session) if open_ and any(c["may_act"] for c in doc["communities"]) \
        else []
    return {"doc": doc, "role_filter": role, "status_filter": status, "statuses": STATUSES,
            "replies_visible": may_see_contacts(who, None),
            "staff": staff,
            "poll": POLL_SECONDS}


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
    page = await store.read(lambda s: _board_page(s, incident_id, who, role, status))
    return render(request, "board.html", **page)


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
        page = await web.store.read(lambda s: _board_page(
            s, incident_id, who, request.query_params.get("role"),
            request.query_params.get("status")))
        return render(request, "board.html", **page)
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
