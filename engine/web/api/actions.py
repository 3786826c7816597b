"""The incident actions: preview and declare (coordinators), acknowledge and take over on
someone's behalf (responders, a liaison for their own communities), close (coordinators), and
the board. The same services as `verbinder incident ...` and the dashboard."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Path, Request
from sqlmodel import Session

from engine.accounts.roles import COORDINATORS, EVERYONE, RESPONDERS
from engine.accounts.rules import Principal, may_act_for
from engine.clock import as_utc
from engine.errors import InputError
from engine.incidents import service
from engine.incidents.options import IncidentOptions, incident_input_from_options
from engine.privacy.texts import note_problem
from engine.registry.directory import liaisons_of, staff_choices
from engine.web.access import Area, Forbidden, WebContext, principal_of, web_of
from engine.web.api.schemas import (
    ERRORS,
    AckRequest,
    Board,
    Changed,
    Closed,
    DeclaredIncident,
    IncidentRequest,
    Preview,
    TakeOverRequest,
)
from playbook.model import IncidentInput, Playbook

area = Area(api=True, responses=ERRORS)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The incident's id")]


def _incident(web: WebContext, body: IncidentRequest) -> tuple[Playbook, IncidentInput]:
    playbook = web.ctx.load_playbook()
    options = IncidentOptions(
        type=body.type, severity=body.severity, area=body.area, lat=body.lat, lon=body.lon,
        fields=tuple(f"{name}={value}" for name, value in body.fields.items()),
        title=body.title, exercise=body.exercise)
    return playbook, incident_input_from_options(playbook, options, web.ctx.clock)


@area.post("/incidents/preview", allow=COORDINATORS, response_model=Preview)
async def preview(request: Request, body: IncidentRequest) -> dict[str, Any]:
    """The checklist the incident would get now, with its warnings; changes nothing."""
    web = web_of(request)
    playbook, incident = _incident(web, body)
    checklist = await anyio.to_thread.run_sync(partial(
        service.preview, engine=web.ctx.engine, playbook=playbook, incident=incident))
    doc = checklist.to_json()
    return {
        "type": doc["incident"]["type"], "title": doc["incident"]["title"],
        "severity": doc["incident"]["severity"], "exercise": doc["incident"]["exercise"],
        "communities": [{
            "id": c["id"], "name": c["name"], "role": c["role"], "escalation": c["escalation"],
            "contacts": len(c["contacts"]),
            "channels": sorted({p["channel"] for p in c["contacts"]}),
            "tasks": [t["id"] for t in c["tasks"]],
        } for c in doc["communities"]],
        "incident_tasks": [t["id"] for t in doc["incident_tasks"]],
        "warnings": doc["warnings"],
    }


@area.post("/incidents", allow=COORDINATORS, response_model=DeclaredIncident,
           status_code=201)
async def declare(request: Request, body: IncidentRequest) -> dict[str, Any]:
    """Declare the incident: stored with its checklist, tasks and timers; a running worker
    sends its messages."""
    web, who = web_of(request), principal_of(request)
    playbook, incident = _incident(web, body)
    now = as_utc(web.ctx.clock.now())
    declared = await web.store.write(lambda s: service.declare(
        session=s, playbook=playbook, incident=incident, now=now, actor=who.actor))
    return {"incident_id": declared.incident_id,
            "communities": len(declared.checklist["communities"]),
            "warnings": declared.warnings}


def _may_act(session: Session, who: Principal, community_id: str) -> None:
    if not may_act_for(who, liaisons_of(session, [community_id]).get(community_id)):
        raise Forbidden("community")


def _acknowledge(session: Session, *, incident_id: int, body: AckRequest, who: Principal,
                 now: Any) -> list[str]:
    _may_act(session, who, body.community)
    return service.acknowledge(session=session, incident_id=incident_id,
                               community_ids=[body.community], by=f"staff:{who.actor}",
                               now=now, via="api", note=body.note)


@area.post("/incidents/{incident_id}/ack", allow=RESPONDERS, response_model=Changed)
async def acknowledge(request: Request, incident_id: IncidentId, body: AckRequest
                      ) -> dict[str, Any]:
    """Mark a community reached on someone's behalf: its remaining steps stop."""
    problem = note_problem(body.note)
    if problem:
        raise InputError(f"note: {problem}")
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    changed = await web.store.write(lambda s: _acknowledge(
        s, incident_id=incident_id, body=body, who=who, now=now))
    return {"changed": changed}


def _take_over(session: Session, *, incident_id: int, body: TakeOverRequest, who: Principal,
               now: Any) -> list[str]:
    _may_act(session, who, body.community)
    if body.staff not in {s for s, _ in staff_choices(session)}:
        raise InputError(f"staff: '{body.staff}' is not an active staff member")
    return service.take_over(session=session, incident_id=incident_id,
                             community_ids=[body.community], staff_id=body.staff, now=now,
                             via="api")


@area.post("/incidents/{incident_id}/take-over", allow=RESPONDERS, response_model=Changed)
async def take_over(request: Request, incident_id: IncidentId, body: TakeOverRequest
                    ) -> dict[str, Any]:
    """A staff member takes a community over (recorded for them): it counts as reached."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    changed = await web.store.write(lambda s: _take_over(
        s, incident_id=incident_id, body=body, who=who, now=now))
    return {"changed": changed}


@area.post("/incidents/{incident_id}/close", allow=COORDINATORS, response_model=Closed)
async def close(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """Close the incident: timers stop, unsent messages are cancelled, the record stays."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    closed = await web.store.write(lambda s: service.close(
        session=s, incident_id=incident_id, now=now, actor=who.actor))
    return {"closed": closed}


@area.get("/incidents/{incident_id}/board", allow=EVERYONE, response_model=Board)
async def board(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """The board: per community its role, status (not_contacted, sent, delivered,
    acknowledged, taken_over, needs_stated, needs_met, escalated, unknown), who was tried and
    how, the next step."""
    return await web_of(request).store.read(
        lambda s: service.incident_board(session=s, incident_id=incident_id))
