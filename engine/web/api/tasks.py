"""Ticking an incident's tasks done (or opening them again), as on the board and with
`verbinder incident task`: a community's task by those who may act for the community, an
incident task (no community) by coordinators and on-call staff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from sqlmodel import Session

from engine.accounts.roles import RESPONDERS
from engine.accounts.rules import Principal, may_act_for
from engine.incidents import service
from engine.registry.directory import liaisons_of
from engine.web.access import Area, Forbidden, principal_of, web_of
from engine.web.api.models import Ticked, TickRequest
from engine.web.api.schemas import ERRORS

area = Area(api=True, responses=ERRORS)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The incident's id")]


def _tick(session: Session, *, incident_id: int, body: TickRequest, who: Principal,
          undo: bool, now: Any) -> bool:
    community = body.community
    liaison = liaisons_of(session, [community]).get(community) if community else None
    if not may_act_for(who, liaison):
        raise Forbidden("community")
    return service.tick_task(session=session, incident_id=incident_id, task_id=body.task,
                             community_id=community, by=who.actor, now=now, note=body.note,
                             undo=undo)


async def _ticked(request: Request, incident_id: int, body: TickRequest, *, undo: bool
                  ) -> dict[str, Any]:
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    changed = await web.store.write(lambda s: _tick(s, incident_id=incident_id, body=body,
                                                    who=who, undo=undo, now=now))
    return {"changed": changed}


@area.post("/incidents/{incident_id}/tasks/tick", allow=RESPONDERS, response_model=Ticked)
async def tick(request: Request, incident_id: IncidentId, body: TickRequest) -> dict[str, Any]:
    """Tick a task done, with an optional note (kept with the incident's notes)."""
    return await _ticked(request, incident_id, body, undo=False)


@area.post("/incidents/{incident_id}/tasks/untick", allow=RESPONDERS, response_model=Ticked)
async def untick(request: Request, incident_id: IncidentId, body: TickRequest
                 ) -> dict[str, Any]:
    """Open a ticked task again (the note says why)."""
    return await _ticked(request, incident_id, body, undo=True)
