"""The incidents: the home page (open incidents first), and the contacts of one community of
an incident, which only those allowed may open (and whose reading is audited). The incident's
own page is its board (board.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from engine.accounts.audit import contacts_viewed
from engine.accounts.roles import EVERYONE, RESPONDERS
from engine.accounts.rules import Principal, may_see_contacts
from engine.errors import NotFoundError
from engine.incidents.service import list_incidents, show_incident
from engine.registry.directory import community_of, contacts_of
from engine.web.access import Area, Forbidden, principal_of, web_of
from engine.web.dashboard.render import render

area = Area()
CLOSED_SHOWN = 20
INCIDENT_IDS = 2**31 - 1


@area.get("/", allow=EVERYONE)
async def home(request: Request) -> Response:
    """Open incidents, then the latest closed ones."""
    incidents = await web_of(request).store.read(lambda s: list_incidents(session=s))
    return render(request, "home.html",
                  open_incidents=[i for i in incidents if i["status"] == "open"],
                  closed_incidents=[i for i in incidents if i["status"] != "open"][:CLOSED_SHOWN])


def _read_contacts(session: Session, *, incident_id: int, community_id: str, who: Principal,
                   now: Any) -> dict[str, Any]:
    """The contacts of one community of an incident, for a principal who may see them; the
    reading is recorded (who saw whom) in the same transaction."""
    doc = show_incident(session=session, incident_id=incident_id)
    if community_id not in {c["id"] for c in doc["communities"]}:
        raise NotFoundError(f"community {community_id[:200]!r}: not part of this incident")
    community = community_of(session, community_id)
    if community is None:
        raise NotFoundError(f"community {community_id[:200]!r}: not in the registry")
    if not may_see_contacts(who, community.liaison_id):
        raise Forbidden("community")
    contacts = contacts_of(session, community_id)
    contacts_viewed(session, actor=who.actor, community_id=community_id,
                    contact_ids=[c["id"] for c in contacts], at=now, source="web",
                    incident_id=incident_id)
    return {"community": community, "contacts": contacts}


@area.get("/incidents/{incident_id}/communities/{community_id}/contacts", allow=RESPONDERS)
async def community_contacts(request: Request, incident_id: int, community_id: str
                             ) -> Response:
    """The contacts of one community of an incident: names, numbers, addresses."""
    if not 0 < incident_id <= INCIDENT_IDS:
        raise NotFoundError(f"incident {incident_id}: no such incident")
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    found = await web.store.write(lambda s: _read_contacts(
        s, incident_id=incident_id, community_id=community_id, who=who, now=now))
    return render(request, "contacts.html", incident_id=incident_id, **found)
