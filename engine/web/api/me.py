"""GET /me: which token this is and its role (for a script to check its configuration)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from engine.accounts.roles import EVERYONE
from engine.web.access import Area, principal_of
from engine.web.api.schemas import ERRORS, Me

area = Area(api=True, responses=ERRORS)


@area.get("/me", allow=EVERYONE, response_model=Me)
async def me(request: Request) -> dict[str, Any]:
    """The token's kind, id and role."""
    who = principal_of(request)
    return {"kind": who.kind, "id": who.id, "role": who.role.value}
