"""The on-call roster: who is on call now (or, with nobody, the coordinators an on-call
step goes to) and the shifts of the coming week."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from engine.accounts.roles import EVERYONE
from engine.oncall.service import list_shifts, on_call
from engine.web.access import Area, web_of
from engine.web.dashboard.render import render

area = Area()
AHEAD = timedelta(days=7)
SHIFTS_SHOWN = 100


@area.get("/roster", allow=EVERYONE)
async def roster_page(request: Request) -> Response:
    """Who is on call now and next."""
    web = web_of(request)
    now, engine = web.ctx.clock.now(), web.ctx.engine
    # the roster's verbs own their (read-only) transaction; the session here stays unused
    now_on = await web.store.read(lambda _s: on_call(engine=engine, at=now))
    coming = await web.store.read(lambda _s: list_shifts(engine=engine, start=now,
                                                         until=now + AHEAD))
    shifts = [s for s in coming.shifts if s.active][:SHIFTS_SHOWN]
    current = {(p.id, p.starts_at) for p in now_on.on_call}
    return render(request, "roster.html", now_on=now_on,
                  next_shifts=[s for s in shifts if (s.staff_id, s.starts_at) not in current
                               and s.starts_at > now],
                  ahead_days=AHEAD.days)
