"""Downloads from an incident's board: the after-action export (evaluation report, timeline)
and the call sheet, made by the same report services as `verbinder incident export|callsheet`
(each download recorded as theirs are: `incident.exported` and an audit row).

The services write to a file (owner-only when it holds personal data); the handler has them
write into a private temporary folder, reads the file back and removes it. Exports from the
dashboard carry no personal data; the call sheet does by nature, so only those who may see
every community's contacts (coordinators, on call) may take it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from fastapi import Request
from fastapi.responses import Response

from engine.accounts.roles import COORDINATORS, Role
from engine.errors import NotFoundError
from engine.reports.service import export_incident, write_callsheet
from engine.web.access import Area, principal_of, web_of
from engine.web.dashboard.render import language_of

area = Area()
INCIDENT_IDS = 2**31 - 1
EXPORTS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
           "csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
SHEETS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
CALLSHEET_ROLES = frozenset({Role.COORDINATOR, Role.ONCALL})


def _checked(incident_id: int, fmt: str, formats: dict[str, str]) -> None:
    if not 0 < incident_id <= INCIDENT_IDS:
        raise NotFoundError(f"incident {incident_id}: no such incident")
    if fmt not in formats:
        raise NotFoundError(f"format {fmt[:20]!r}: not offered")


def _attachment(body: bytes, name: str, media_type: str) -> Response:
    # a download is never shown inline: an HTML report would otherwise run under our origin
    return Response(body, media_type=media_type, headers={
        "content-disposition": f'attachment; filename="{name}"',
        "x-content-type-options": "nosniff"})


def _made(write: object, name: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="verbinder-download-") as folder:
        path = Path(folder) / name
        write(path)  # type: ignore[operator]
        return path.read_bytes()


@area.get("/incidents/{incident_id}/export.{fmt}", allow=COORDINATORS)
async def export(request: Request, incident_id: int, fmt: str) -> Response:
    """The after-action export: the evaluation report (html, pdf) or the timeline (csv,
    jsonl), without personal data."""
    _checked(incident_id, fmt, EXPORTS)
    web, who = web_of(request), principal_of(request)
    lang, now = language_of(request), web.ctx.clock.now()
    name = f"incident-{incident_id}.{fmt}"
    body = await anyio.to_thread.run_sync(lambda: _made(lambda path: export_incident(
        web.ctx.engine, incident_id=incident_id, fmt=fmt, output=path, include_pii=False,
        lang=lang, actor=who.actor, now=now), name))
    return _attachment(body, name, EXPORTS[fmt])


@area.get("/incidents/{incident_id}/callsheet.{fmt}", allow=CALLSHEET_ROLES)
async def callsheet(request: Request, incident_id: int, fmt: str) -> Response:
    """The call sheet: whom to call for each community, with their numbers (recorded)."""
    _checked(incident_id, fmt, SHEETS)
    web, who = web_of(request), principal_of(request)
    lang, now = language_of(request), web.ctx.clock.now()
    name = f"callsheet-{incident_id}.{fmt}"
    body = await anyio.to_thread.run_sync(lambda: _made(lambda path: write_callsheet(
        web.ctx.engine, incident_id=incident_id, fmt=fmt, output=path, lang=lang,
        actor=who.actor, now=now), name))
    return _attachment(body, name, SHEETS[fmt])
