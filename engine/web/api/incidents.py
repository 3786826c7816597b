"""GET /incidents and /incidents/{id}: the views `verbinder incident list|show` print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from engine.accounts.roles import EVERYONE
from engine.incidents.service import list_incidents, show_incident
from engine.web.access import Area, web_of
from engine.web.api.schemas import ERRORS, IncidentDetail, IncidentList

area = Area(api=True, responses=ERRORS)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The incident's id")]


@area.get("/incidents", allow=EVERYONE, response_model=IncidentList)
async def incidents(request: Request) -> dict[str, Any]:
    """Incidents, newest first."""
    return {"incidents": await web_of(request).store.read(lambda s: list_incidents(session=s))}


@area.get("/incidents/{incident_id}", allow=EVERYONE, response_model=IncidentDetail)
async def incident(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """One incident: per community its reach status, messages, tasks; the timeline."""
    web = web_of(request)
    now = web.ctx.clock.now()
    return await web.store.read(
        lambda s: show_incident(session=s, incident_id=incident_id, now=now))
