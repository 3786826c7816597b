"""`verbinder incident ...` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from engine.incidents.options import (
    AREA_OPTION,
    AT_OPTION,
    EXERCISE_OPTION,
    FIELD_OPTION,
    LAT_OPTION,
    LON_OPTION,
    SEVERITY_OPTION,
    TITLE_OPTION,
    TYPE_OPTION,
    IncidentOptions,
    incident_input_from_options,
)
from engine.output import emit_json, plain, stdout, styled
from engine.playbooks.service import load_configured
from engine.registry.service import load_snapshot
from engine.store.db import reading
from playbook.builder import Checklist, CommunityItem, build_checklist
from playbook.model import Playbook
from playbook.render import language_chain, message_context, render_message

if TYPE_CHECKING:
    from engine.wiring import AppContext

incident_app = typer.Typer(no_args_is_help=True)

# A link of realistic length, so that previewed SMS segment counts match real messages.
_SAMPLE_TOKEN = "x" * 43


def preview_checklist(app_ctx: AppContext, options: IncidentOptions) -> Checklist:
    """The checklist an incident would get now, changing nothing."""
    playbook = load_configured(app_ctx)
    incident = incident_input_from_options(playbook, options, app_ctx.clock)
    with reading(app_ctx.engine).connect() as conn:
        snapshot = load_snapshot(conn)
    return build_checklist(playbook, incident, snapshot.communities, snapshot.contacts,
                           snapshot.opted_out)


@incident_app.command("preview")
def preview(
    ctx: typer.Context,
    type_: str = TYPE_OPTION,
    severity: int | None = SEVERITY_OPTION,
    area: str | None = AREA_OPTION,
    lat: float | None = LAT_OPTION,
    lon: float | None = LON_OPTION,
    field: list[str] = FIELD_OPTION,
    title: str | None = TITLE_OPTION,
    exercise: bool = EXERCISE_OPTION,
    at: str | None = AT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """The checklist for an incident, changing nothing."""
    app_ctx: AppContext = ctx.obj
    options = IncidentOptions(type=type_, severity=severity, area=area, lat=lat, lon=lon,
                              fields=tuple(field), title=title, exercise=exercise, at=at)
    checklist = preview_checklist(app_ctx, options)
    if as_json:
        emit_json(checklist.to_json())
    else:
        print_checklist(checklist, app_ctx.settings.public_url,
                        smart_encoding=app_ctx.settings.sms_smart_encoded)


def first_message_segments(playbook: Playbook, checklist: Checklist, item: CommunityItem,
                           public_url: str, smart_encoding: bool = False) -> dict[str, int]:
    """SMS segments of the community's first escalation message, per contact language."""
    policy = playbook.policies.get(item.escalation or "")
    if policy is None or not policy.steps:
        return {}
    template = min(policy.steps, key=lambda s: s.after.nominal).template
    has_intake = any(t.task.kind == "intake" for t in item.tasks)
    intake_url = f"{public_url.rstrip('/')}/i/{_SAMPLE_TOKEN}" if has_intake else ""
    segments: dict[str, int] = {}
    for eligible in item.contacts:
        chain = language_chain(eligible.language, item.community.languages,
                               playbook.default_locale)
        context = message_context(playbook, checklist.incident, community=item.community,
                                  contact=eligible.contact, intake_url=intake_url)
        message = render_message(playbook, template, "sms", language_chain=chain,
                                 context=context, smart_encoding=smart_encoding)
        if message.sms is not None and message.locale not in segments:
            segments[message.locale] = message.sms.segments
    return segments


def print_checklist(checklist: Checklist, public_url: str, *, smart_encoding: bool = False
                    ) -> None:
    """The checklist as readable tables (Dutch / English headings); data printed as text."""
    doc = checklist.to_json()
    incident = doc["incident"]
    stdout.print(styled((incident["title"], "bold"),
                        f" ({incident['type']}), ernst/severity {incident['severity']}, "
                        f"{incident['declared_at']}",
                        (" OEFENING / EXERCISE" if incident["exercise"] else "", "yellow")))
    if checklist.incident_tasks:
        tasks = Table(title="Incidenttaken / Incident tasks")
        for column in ("taak/task", "titel/title", "deadline/due"):
            tasks.add_column(column)
        for task in doc["incident_tasks"]:
            tasks.add_row(plain(task["id"]), plain(task["title"]), plain(task["due"]))
        stdout.print(tasks)
    table = Table(title="Gemeenschappen / Communities")
    for column in ("gemeenschap/community", "rol/role", "regels/rules", "escalatie",
                   "contacten/contacts", "sms-delen/segments", "taken/tasks"):
        table.add_column(column)
    playbook = checklist.playbook
    for item in checklist.communities:
        contacts = ", ".join(f"{c.contact.priority}:{c.channel}/{c.language}"
                             for c in item.contacts)
        segments = first_message_segments(playbook, checklist, item, public_url, smart_encoding)
        table.add_row(plain(f"{item.community.name} ({item.community.id})"), plain(item.role),
                      plain(", ".join(item.rules)), plain(item.escalation or "-"),
                      plain(contacts) if contacts else plain("-", "red"),
                      plain(", ".join(f"{lang}: {n}" for lang, n in segments.items()) or "-"),
                      plain(", ".join(t.task.id for t in item.tasks)))
    stdout.print(table)
    for warning in checklist.warnings:
        stdout.print(styled(("!", "yellow"), " ", warning))
    if not checklist.communities:
        stdout.print("Geen gemeenschap geselecteerd / no community matched.")
