"""The registry in the dashboard: search the communities, a community's page, and its contacts
(loaded on request, and every reading recorded: who saw whom).

Responders only. A liaison finds and opens only the communities they are the liaison of
(engine.accounts.rules.may_see_contacts); coordinators and on-call staff all of them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from engine.accounts.audit import contacts_viewed
from engine.accounts.roles import RESPONDERS, Role
from engine.accounts.rules import Principal, may_see_contacts
from engine.errors import NotFoundError
from engine.registry.directory import community_details, contacts_of, search_communities
from engine.web.access import Area, Forbidden, principal_of, web_of
from engine.web.dashboard.render import render

area = Area()
MAX_ID = 200


def _mine(who: Principal) -> str | None:
    """The liaison whose communities a principal may find (None: all)."""
    return (who.staff_id or "-") if who.role == Role.LIAISON else None


@area.get("/registry", allow=RESPONDERS)
async def registry(request: Request, q: str = "") -> Response:
    """Search the communities by name, id, kind or tag (htmx: the results only)."""
    who = principal_of(request)
    found = await web_of(request).store.read(lambda s: search_communities(
        session=s, query=q[:100], liaison_id=_mine(who)))
    return render(request, "registry.html", q=q[:100], found=found)


def _community(session: Session, community_id: str, who: Principal) -> dict[str, Any]:
    doc = community_details(session, community_id) if len(community_id) <= MAX_ID else None
    if doc is None:
        raise NotFoundError(f"community {community_id[:MAX_ID]!r}: not in the registry")
    if not may_see_contacts(who, doc["liaison_id"]):
        raise Forbidden("community")
    return doc


@area.get("/registry/{community_id}", allow=RESPONDERS)
async def community_page(request: Request, community_id: str) -> Response:
    """One community: what the registry says of it; its contacts behind a button."""
    who = principal_of(request)
    doc = await web_of(request).store.read(lambda s: _community(s, community_id, who))
    return render(request, "community.html", c=doc)


def _read_contacts(session: Session, community_id: str, who: Principal, now: Any
                   ) -> dict[str, Any]:
    doc = _community(session, community_id, who)
    contacts = contacts_of(session, community_id)
    contacts_viewed(session, actor=who.actor, community_id=community_id,
                    contact_ids=[c["id"] for c in contacts], at=now, source="web")
    return {"community": doc, "contacts": contacts}


@area.get("/registry/{community_id}/contacts", allow=RESPONDERS)
async def community_contacts(request: Request, community_id: str) -> Response:
    """The contacts of a community (names, numbers, addresses); the reading is recorded in
    the same transaction."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    found = await web.store.write(lambda s: _read_contacts(s, community_id, who, now))
    return render(request, "contacts.html", incident_id=None, **found)
