"""Downloads: the after-action export (coordinators; no personal data) and the call sheet
(coordinators and on call: personal by nature), made by the same report services as the
board's download routes and `verbinder incident export|callsheet`, and recorded as theirs
are (`incident.exported` and an audit row, as the token)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response

from engine.accounts.roles import COORDINATORS, Role
from engine.reports.service import export_incident, write_callsheet
from engine.web.access import Area, principal_of, web_of
from engine.web.api.models import known_query
from engine.web.api.schemas import ERRORS

area = Area(api=True, responses=ERRORS)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The incident's id")]
Lang = Annotated[Literal["nl", "en"], Query(description="The report's language")]
Known = Annotated[None, Depends(known_query("lang"))]
EXPORTS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
           "csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
SHEETS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
CALLSHEET_ROLES = frozenset({Role.COORDINATOR, Role.ONCALL})


def _documented(types: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": "The file (always an attachment)",
                  "content": {t.split(";")[0]: binary for t in types.values()}}}


def _attachment(make: Callable[[FilePath], None], name: str, media_type: str) -> Response:
    with tempfile.TemporaryDirectory(prefix="verbinder-download-") as folder:
        path = FilePath(folder) / name
        make(path)
        body = path.read_bytes()
    # never shown inline: an HTML report must not run under the server's origin
    return Response(body, media_type=media_type, headers={
        "content-disposition": f'attachment; filename="{name}"'})


@area.get("/incidents/{incident_id}/export/{fmt}", allow=COORDINATORS,
          response_class=Response, responses=_documented(EXPORTS))
async def export(request: Request, incident_id: IncidentId,
                 fmt: Annotated[Literal["html", "pdf", "csv", "jsonl"], Path()],
                 lang: Lang = "nl", _known: Known = None) -> Response:
    """The after-action export: the evaluation report (html, pdf) or the timeline (csv,
    jsonl), without personal data."""
    web, who = web_of(request), principal_of(request)
    now, name = web.ctx.clock.now(), f"incident-{incident_id}.{fmt}"
    return await anyio.to_thread.run_sync(lambda: _attachment(lambda path: export_incident(
        web.ctx.engine, incident_id=incident_id, fmt=fmt, output=path, include_pii=False,
        lang=lang, actor=who.actor, now=now), name, EXPORTS[fmt]))


@area.get("/incidents/{incident_id}/callsheet/{fmt}", allow=CALLSHEET_ROLES,
          response_class=Response, responses=_documented(SHEETS))
async def callsheet(request: Request, incident_id: IncidentId,
                    fmt: Annotated[Literal["html", "pdf"], Path()], lang: Lang = "nl",
                    _known: Known = None) -> Response:
    """The call sheet: whom to call for each community, with their numbers (recorded)."""
    web, who = web_of(request), principal_of(request)
    now, name = web.ctx.clock.now(), f"callsheet-{incident_id}.{fmt}"
    return await anyio.to_thread.run_sync(lambda: _attachment(lambda path: write_callsheet(
        web.ctx.engine, incident_id=incident_id, fmt=fmt, output=path, lang=lang,
        actor=who.actor, now=now), name, SHEETS[fmt]))
