"""Declaring an incident: a form built from the incident type's fields, a live preview of the
checklist with its warnings (htmx posts the form as it changes), then confirm. Coordinators only.

The form is read into the same IncidentOptions as `verbinder incident preview|declare`, checked
by the same function (engine.incidents.options), and previewed and declared by the same
services. Fields are named `f.NAME`; only the chosen type's fields are read (after a change
of type, htmx may post the previous type's fields once more).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from engine.accounts.roles import COORDINATORS
from engine.clock import as_utc
from engine.errors import InputError
from engine.incidents import service
from engine.incidents.options import IncidentOptions, incident_input_from_options
from engine.registry.directory import choices
from engine.web.access import Area, WebContext, principal_of, web_of
from engine.web.dashboard.render import render
from playbook.model import IncidentType, Playbook
from playbook.said import Said

area = Area()
FIELD_PREFIX = "f."
MAX_FORM_VALUE = 1000  # a value longer than this is refused by the options' own checks anyway


@dataclass(frozen=True)
class FormField:
    """One input of the declare form, as the template draws it."""

    name: str
    type: str  # string | int | bool | enum | community | tag
    required: bool
    values: tuple[str, ...]
    value: str


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FORM_VALUE] if isinstance(value, str) else ""


def chosen_type(playbook: Playbook, wanted: str | None) -> IncidentType:
    """The incident type asked for, else the playbook's first."""
    if wanted and wanted in playbook.incident_types:
        return playbook.incident_types[wanted]
    return next(iter(playbook.incident_types.values()))


def form_fields(itype: IncidentType, form: FormData | None) -> list[FormField]:
    """The inputs of this type's fields, filled in from a posted form."""
    return [FormField(name=name, type=spec.type, required=spec.required, values=spec.values,
                      value=_text(form, FIELD_PREFIX + name) if form else "")
            for name, spec in itype.fields.items()]


def options_from_form(itype: IncidentType, form: FormData) -> IncidentOptions:
    """The incident OPTIONS a posted form stands for (only this type's fields, non-empty)."""
    severity = _text(form, "severity").strip()
    fields = tuple(f"{name}={_text(form, FIELD_PREFIX + name).strip()}"
                   for name in itype.fields if _text(form, FIELD_PREFIX + name).strip())
    problems: list[str] = []
    if severity and not severity.isdigit():
        problems.append(Said("severity_not_whole",
                             f"--severity: '{severity[:10]}' is not a whole number",
                             value=severity[:10]))
    if problems:
        raise InputError(problems)
    return IncidentOptions(type=itype.id, severity=int(severity) if severity else None,
                           area=_text(form, "area") or None, fields=fields,
                           title=_text(form, "title") or None,
                           exercise=_text(form, "exercise") == "yes")


async def _page_context(web: WebContext, playbook: Playbook, itype: IncidentType,
                        form: FormData | None) -> dict[str, Any]:
    picks = await web.store.read(choices)
    return {
        "types": [(t.id, playbook.text(t.label, t.id)) for t in playbook.incident_types.values()],
        "itype": itype, "fields": form_fields(itype, form), "picks": picks,
        "values": {k: _text(form, k) for k in ("title", "severity", "area", "exercise")}
        if form else {},
    }


async def _preview(web: WebContext, playbook: Playbook, itype: IncidentType, form: FormData
                   ) -> dict[str, Any]:
    try:  # the options, then (in the builder) what the registry holds
        incident = incident_input_from_options(playbook, options_from_form(itype, form),
                                               web.ctx.clock)
        checklist = await anyio.to_thread.run_sync(partial(
            service.preview, engine=web.ctx.engine, playbook=playbook, incident=incident))
    except InputError as exc:
        return {"problems": exc.problems, "checklist": None}
    doc = checklist.to_json()
    for item, c in zip(checklist.communities, doc["communities"], strict=True):
        c["segments"] = service.first_message_segments(
            playbook=playbook, checklist=checklist, item=item,
            public_url=web.ctx.settings.public_url,
            smart_encoding=web.ctx.settings.sms_smart_encoded)
    return {"problems": [], "checklist": doc}


@area.get("/declare", allow=COORDINATORS)
async def declare_form(request: Request, type: str | None = None) -> Response:
    """The declare form for an incident type (the first when none is asked for)."""
    web = web_of(request)
    playbook = web.ctx.load_playbook()
    itype = chosen_type(playbook, type)
    page = await _page_context(web, playbook, itype, None)
    return render(request, "declare.html", preview=None, **page)


@area.post("/declare/preview", allow=COORDINATORS)
async def declare_preview(request: Request) -> Response:
    """The checklist the form's incident would get now, with its warnings (changes nothing).
    htmx asks for the preview fragment; without script, the whole page comes back."""
    web = web_of(request)
    playbook = web.ctx.load_playbook()
    form = await request.form()
    itype = chosen_type(playbook, _text(form, "type"))
    preview = await _preview(web, playbook, itype, form)
    if request.headers.get("hx-request"):
        return render(request, "declare_preview.html", preview=preview, itype=itype)
    page = await _page_context(web, playbook, itype, form)
    return render(request, "declare.html", preview=preview, **page)


@area.post("/declare", allow=COORDINATORS)
async def declare(request: Request) -> Response:
    """Declare the incident of the form; to its board. Refused input: the form again, with
    what is wrong, and nothing stored."""
    web, who = web_of(request), principal_of(request)
    playbook = web.ctx.load_playbook()
    form = await request.form()
    itype = chosen_type(playbook, _text(form, "type"))
    try:  # the options, then what the registry holds, inside the declaration's transaction
        incident = incident_input_from_options(playbook, options_from_form(itype, form),
                                               web.ctx.clock)
        now = as_utc(web.ctx.clock.now())
        declared = await web.store.write(lambda s: service.declare(
            session=s, playbook=playbook, incident=incident, now=now, actor=who.actor))
    except InputError as exc:
        page = await _page_context(web, playbook, itype, form)
        return render(request, "declare.html", status=422,
                      preview={"problems": exc.problems, "checklist": None}, **page)
    return RedirectResponse(f"/incidents/{declared.incident_id}", status_code=303)
