"""The registry: search communities, and one community's page (its data, contacts on
request and audited, liaison history, contact log, agreements, crisis-readiness).

Who may open what (engine.accounts.rules): coordinators and on-call staff every community;
a liaison only the communities they are the liaison of (another's page answers 403, and
the search lists only their own); a viewer not the registry at all. Contact notes (personal
data) only for coordinators and the community's own liaison.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from engine.accounts.audit import contacts_viewed
from engine.accounts.roles import RESPONDERS, Role
from engine.accounts.rules import (
    Principal,
    may_keep_peacetime,
    may_see_contacts,
)
from engine.peacetime.service import community_peacetime
from engine.registry.directory import contacts_of
from engine.registry.service import search_communities
from engine.web.access import Area, Forbidden, opened_community, principal_of, web_of
from engine.web.dashboard.peacetime import configured_playbook
from engine.web.dashboard.render import render
from playbook.model import Playbook

area = Area(prefix="/registry")
QUERY_CHARS = 100
SHOWN = 100


@area.get("", allow=RESPONDERS)
async def search_page(request: Request) -> Response:
    """Search communities by name, id, kind, tag or area (a liaison: among their own)."""
    web, who = web_of(request), principal_of(request)
    query = request.query_params.get("q", "")[:QUERY_CHARS]
    liaison = who.staff_id or "" if who.role == Role.LIAISON else None
    found = await web.store.read(lambda s: search_communities(
        session=s, query=query, liaison=liaison, limit=SHOWN))
    return render(request, "registry.html", query=query, found=found,
                  own_only=liaison is not None)



def _community_page(session: Session, who: Principal, community_id: str,
                    playbook: Playbook | None, now: datetime,
                    consent_stale_days: int) -> dict[str, Any]:
    profile = opened_community(session, who, community_id)
    keeps = may_keep_peacetime(who, profile["liaison"])
    peace = community_peacetime(session=session, community=community_id, playbook=playbook,
                                now=now, consent_stale_days=consent_stale_days,
                                include_notes=keeps)
    return {"c": profile, "peace": peace, "keeps": keeps,
            "sees_contacts": may_see_contacts(who, profile["liaison"])}


@area.get("/{community_id}", allow=RESPONDERS)
async def community_page(request: Request, community_id: str) -> Response:
    """One community: its data, liaisons, contact log, agreements and readiness."""
    web, who = web_of(request), principal_of(request)
    playbook, now = configured_playbook(web), web.ctx.clock.now()
    stale = web.ctx.settings.consent_stale_days
    page = await web.store.read(lambda s: _community_page(s, who, community_id, playbook,
                                                          now, stale))
    return render(request, "community.html", broken=playbook is None,
                  logged=request.query_params.get("logged") == "1", **page)


def _read_contacts(session: Session, who: Principal, community_id: str, now: datetime
                   ) -> dict[str, Any]:
    """The contacts of a community the principal may see; the reading is recorded (who
    saw whom) in the same transaction."""
    profile = opened_community(session, who, community_id)
    if not may_see_contacts(who, profile["liaison"]):
        raise Forbidden("community")
    contacts = contacts_of(session, community_id)
    contacts_viewed(session, actor=who.actor, community_id=community_id,
                    contact_ids=[c["id"] for c in contacts], at=now, source="web:registry")
    return {"community": profile, "contacts": contacts}


@area.get("/{community_id}/contacts", allow=RESPONDERS)
async def community_contacts(request: Request, community_id: str) -> Response:
    """A community's contacts: names, numbers, addresses (htmx loads them in place)."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    found = await web.store.write(lambda s: _read_contacts(s, who, community_id, now))
    return render(request, "contacts.html", incident_id=None, **found)
