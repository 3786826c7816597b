"""The on-call roster: who is on call now (with their number, to call them), and the next
shifts of the coming week. Responders only (the numbers are staff's, not the public's)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import anyio
from fastapi import Request
from fastapi.responses import Response

from engine.accounts.roles import RESPONDERS
from engine.oncall.service import list_shifts, on_call
from engine.web.access import Area, web_of
from engine.web.dashboard.render import render

area = Area()
AHEAD = timedelta(days=7)
NEXT_SHOWN = 10


@area.get("/oncall", allow=RESPONDERS)
async def roster(request: Request) -> Response:
    """Who is on call now, and who is next."""
    web = web_of(request)
    now = web.ctx.clock.now()
    current = await anyio.to_thread.run_sync(partial(on_call, engine=web.ctx.engine, at=now))
    coming = await anyio.to_thread.run_sync(partial(
        list_shifts, engine=web.ctx.engine, start=now, until=now + AHEAD))
    upcoming = [s for s in coming.shifts if s.starts_at > now and s.active][:NEXT_SHOWN]
    return render(request, "roster.html", now=now, current=current, upcoming=upcoming)
