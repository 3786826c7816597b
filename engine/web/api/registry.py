"""The registry: search communities and one community's profile (no contact details), and a
community's contacts, whose reading is recorded (who saw whom). The same rules as the
/registry pages: coordinators and on-call staff every community, a liaison only their own (a
liaison's token those of the staff member it was made for, `user token create --staff`; none
without one), a viewer not the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlmodel import Session

from engine.accounts.audit import contacts_viewed
from engine.accounts.roles import RESPONDERS, Role
from engine.accounts.rules import Principal, may_see_contacts
from engine.registry.directory import contacts_of
from engine.registry.service import search_communities
from engine.web.access import Area, Forbidden, opened_community, principal_of, web_of
from engine.web.api.models import CommunityProfile, CommunitySearch, Contacts, known_query
from engine.web.api.schemas import ERRORS

area = Area(api=True, responses=ERRORS)
CommunityId = Annotated[str, Path(min_length=1, max_length=200,
                                  description="The community's id in the registry")]


@area.get("/registry", allow=RESPONDERS, response_model=CommunitySearch)
async def search(request: Request,
                 q: Annotated[str, Query(max_length=100, description="Words to match")] = "",
                 limit: Annotated[int, Query(ge=1, le=100)] = 50,
                 _known: Annotated[None, Depends(known_query("q", "limit"))] = None
                 ) -> dict[str, Any]:
    """Communities whose name, id, kind, tags or area hold every word (a liaison: their own)."""
    web, who = web_of(request), principal_of(request)
    liaison = who.staff_id or "" if who.role == Role.LIAISON else None
    return await web.store.read(lambda s: search_communities(
        session=s, query=q, liaison=liaison, limit=limit))



@area.get("/registry/{community_id}", allow=RESPONDERS, response_model=CommunityProfile)
async def profile(request: Request, community_id: CommunityId) -> dict[str, Any]:
    """One community's data and how many active contacts it has (no contact details)."""
    web, who = web_of(request), principal_of(request)
    return await web.store.read(lambda s: opened_community(s, who, community_id))


def _read_contacts(session: Session, who: Principal, community_id: str, now: datetime
                   ) -> dict[str, Any]:
    found = opened_community(session, who, community_id)
    if not may_see_contacts(who, found["liaison"]):
        raise Forbidden("community")
    contacts = contacts_of(session, community_id)
    contacts_viewed(session, actor=who.actor, community_id=community_id,
                    contact_ids=[c["id"] for c in contacts], at=now, source="api:registry")
    return {"community": community_id, "contacts": contacts}


@area.get("/registry/{community_id}/contacts", allow=RESPONDERS, response_model=Contacts)
async def contacts(request: Request, community_id: CommunityId) -> dict[str, Any]:
    """A community's contacts: names, numbers, addresses. Recorded (`contact.viewed`, audit
    `contact.view`) in the reading's transaction."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    return await web.store.write(lambda s: _read_contacts(s, who, community_id, now))
