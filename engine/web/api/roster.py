"""The on-call roster: who is on call now (with nobody, the coordinators an on-call step
goes to) and the shifts of the coming week; phone numbers for responders only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request

from engine.accounts.roles import EVERYONE, RESPONDERS
from engine.clock import iso_z
from engine.oncall.service import list_shifts, on_call
from engine.web.access import Area, principal_of, web_of
from engine.web.api.models import Roster
from engine.web.api.schemas import ERRORS

area = Area(api=True, responses=ERRORS)
AHEAD = timedelta(days=7)
SHIFTS_SHOWN = 100


@area.get("/roster", allow=EVERYONE, response_model=Roster)
async def roster(request: Request) -> dict[str, Any]:
    """On call now and next (the coming 7 days)."""
    web, who = web_of(request), principal_of(request)
    now, engine = web.ctx.clock.now(), web.ctx.engine
    # the roster's verbs own their (read-only) transaction; the session here stays unused
    now_on = await web.store.read(lambda _s: on_call(engine=engine, at=now))
    coming = await web.store.read(lambda _s: list_shifts(engine=engine, start=now,
                                                         until=now + AHEAD))
    phones = who.role in RESPONDERS
    current = {(p.id, p.starts_at) for p in now_on.on_call}
    return {
        "at": iso_z(now_on.at),
        "on_call": [{"id": p.id, "name": p.name, "starts_at": iso_z(p.starts_at),
                     "ends_at": iso_z(p.ends_at), "phone": p.phone if phones else None}
                    for p in now_on.on_call],
        "coordinators": [] if now_on.on_call else [{"id": c.id, "name": c.name}
                                                   for c in now_on.coordinators],
        "next": [{"staff": s.staff_id, "name": s.name, "starts_at": iso_z(s.starts_at),
                  "ends_at": iso_z(s.ends_at)}
                 for s in coming.shifts[:SHIFTS_SHOWN]
                 if s.active and (s.staff_id, s.starts_at) not in current
                 and s.starts_at > now],
    }
