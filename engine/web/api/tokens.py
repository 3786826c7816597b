"""GET /tokens: the API tokens (coordinators only)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from engine.accounts.apitokens import list_api_tokens
from engine.accounts.roles import COORDINATORS
from engine.web.access import Area, web_of
from engine.web.api.schemas import ERRORS, TokenList

area = Area(api=True, responses=ERRORS)


@area.get("/tokens", allow=COORDINATORS, response_model=TokenList)
async def tokens(request: Request) -> dict[str, Any]:
    """Every API token, without the tokens themselves."""
    return {"tokens": await web_of(request).store.read(list_api_tokens)}
