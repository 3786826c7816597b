"""`verbinder incident ...`: preview, declare, list, show, ack, close, export, callsheet."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from engine.cli.auditing import audited
from engine.cli.output import AfterCommit, emit_json, plain, stderr, stdout, styled
from engine.clock import as_utc
from engine.errors import InputError

# The services, the store and the playbook's rules engine are imported by the command that
# runs (as `service` and so on in its body): `incident --help` loads none of them.
if TYPE_CHECKING:
    from engine.incidents.options import IncidentOptions
    from engine.wiring import AppContext
    from playbook.builder import Checklist

incident_app = typer.Typer(no_args_is_help=True)

# Typer option declarations, to be used as defaults of a command's parameters.
TYPE_OPTION = typer.Option(..., "--type", help="Incident type id of the playbook.")
SEVERITY_OPTION = typer.Option(None, "--severity", help="1..5 (default: the type's).")
AREA_OPTION = typer.Option(None, "--area", help="Area code: CBS (WK036301) or free (noord/oud).")
LAT_OPTION = typer.Option(None, "--lat", help="Latitude, decimal degrees (with --lon).")
LON_OPTION = typer.Option(None, "--lon", help="Longitude, decimal degrees (with --lat).")
FIELD_OPTION = typer.Option([], "--field", help="NAME=VALUE, repeatable: the type's fields.")
TITLE_OPTION = typer.Option(None, "--title", help="Title (default: the type's label).")
EXERCISE_OPTION = typer.Option(False, "--exercise", help="An exercise, not a real event.")
AT_OPTION = typer.Option(None, "--at", help="Declaration time, ISO 8601 with offset or Z.")


def _preview(app: AppContext, options: IncidentOptions) -> Checklist:
    """The checklist an incident would get now, changing nothing (options checked first)."""
    from engine.incidents.options import incident_input_from_options
    from engine.incidents.preview import preview  # not the flows: a preview changes nothing

    playbook = app.load_playbook()
    incident = incident_input_from_options(playbook, options, app.clock)
    return preview(engine=app.engine, playbook=playbook, incident=incident)


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
    every: bool = typer.Option(False, "--all", help="List every community (text form; "
                               "default: a summary by role and the first 50)."),
) -> None:
    """The checklist for an incident, changing nothing."""
    from engine.incidents.options import IncidentOptions

    app_ctx: AppContext = ctx.obj
    options = IncidentOptions(type=type_, severity=severity, area=area, lat=lat, lon=lon,
                              fields=tuple(field), title=title, exercise=exercise, at=at)
    checklist = _preview(app_ctx, options)
    if as_json:
        emit_json(checklist.to_json())
    else:
        print_checklist(checklist, app_ctx.settings.public_url,
                        smart_encoding=app_ctx.settings.sms_smart_encoded, every=every)


def print_checklist(checklist: Checklist, public_url: str, *, smart_encoding: bool = False,
                    every: bool = False) -> None:
    """The checklist as readable tables (Dutch / English headings); data printed as text: a
    summary by role, then the first communities (`every`: all of them)."""
    from dataclasses import replace

    from engine.cli.checklist import print_communities, print_role_summary, print_warnings

    doc = replace(checklist, communities=()).to_json()  # the head only: no row documents
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
    if checklist.communities:
        print_role_summary(checklist)
        print_communities(checklist, public_url=public_url, smart_encoding=smart_encoding,
                          every=every)
    print_warnings(checklist.warnings, every=every)
    if not checklist.communities:
        stdout.print("Geen gemeenschap geselecteerd / no community matched.")


@incident_app.command("declare")
@audited("incident.declare")
def declare_command(
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
    send: bool = typer.Option(True, "--send/--no-send",
                              help="Send what is due now from this process (default), or leave "
                                   "it to a running worker."),
) -> None:
    """Declare an incident: store it, start outreach and timers; print its id and checklist."""
    from engine.incidents import service
    from engine.incidents.options import IncidentOptions, incident_input_from_options
    from engine.store.db import session_scope
    from engine.wiring import build_worker

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    options = IncidentOptions(type=type_, severity=severity, area=area, lat=lat, lon=lon,
                              fields=tuple(field), title=title, exercise=exercise, at=at)
    incident = incident_input_from_options(playbook, options, app.clock)
    with session_scope(app.engine) as session:
        declared = service.declare(session=session, playbook=playbook, incident=incident,
                                   now=as_utc(app.clock.now()))
    # Committed: from here on nothing may turn into a failing exit status, or a person or
    # script that retries would declare the incident twice.
    incident_id, doc = declared.incident_id, declared.checklist
    say = AfterCommit(incident_id)
    say.err(f"incident {incident_id} declared")
    if send:
        try:
            result = build_worker(app, name=f"cli-{incident_id}").run_cycle()
        except (Exception, KeyboardInterrupt) as exc:
            say.sending_failed(exc)
        else:
            say.err(f"outreach started: {result.queued} messages queued, sent: {result.sent}")
    if as_json:
        say.out(lambda: emit_json(doc))
        return
    say.out(lambda: stdout.print(_declared_table(incident_id, doc)))
    for warning in doc["warnings"]:
        say.err(f"warning: {warning}")


def _declared_table(incident_id: int, doc: dict[str, Any]) -> Table:
    table = Table(title=plain(f"Incident {incident_id}: {doc['incident']['title']}"))
    for column in ("community", "role", "contacts", "escalation"):
        table.add_column(column)
    for c in doc["communities"]:
        table.add_row(plain(c["name"]), plain(c["role"]), plain(len(c["contacts"])),
                      plain(c.get("escalation") or "-"))
    return table


@incident_app.command("list")
def list_command(ctx: typer.Context,
                 as_json: bool = typer.Option(False, "--json", help="One JSON document.")) -> None:
    """Incidents, newest first."""
    from engine.incidents import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine, read_only=True) as session:
        rows = service.list_incidents(session=session)
    if as_json:
        emit_json({"incidents": rows})
        return
    table = Table(title="Incidents")
    for column in ("id", "declared (UTC)", "type", "title", "status", "reached"):
        table.add_column(column)
    for r in rows:
        table.add_row(plain(r["id"]), plain(r["declared_at"]), plain(r["type"]),
                      plain(r["title"]),
                      plain(r["status"] + (" (exercise)" if r["exercise"] else "")),
                      plain(f"{r['reached']}/{r['communities']}"))
    stdout.print(table)


@incident_app.command("show")
def show_command(ctx: typer.Context, incident_id: int = typer.Argument(..., metavar="ID"),
                 as_json: bool = typer.Option(False, "--json", help="One JSON document.")) -> None:
    """One incident: per community its reach status, tasks and timeline."""
    from engine.incidents import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine, read_only=True) as session:
        doc = service.show_incident(session=session, incident_id=incident_id)
    if as_json:
        emit_json(doc)
        return
    head, summary = doc["incident"], doc["summary"]
    stdout.print(styled((f"Incident {head['id']}", "bold"), f": {head['title']} ({head['type']}, "
                        f"severity {head['severity']}, {head['status']})",
                        (" OEFENING / EXERCISE" if head["exercise"] else "", "yellow")))
    stdout.print(f"reached {summary['reached']}/{summary['communities']}; messages "
                 f"{summary['messages']}")
    for channel, h in doc["channels"].items():
        if h["failing"]:
            stdout.print(styled((f"{channel.upper()} is failing", "bold red"),
                                f": {h['failed']} failed, {h['accepted']} sent"))
    if summary["unknown"]:
        stdout.print(plain(f"{summary['unknown']} message(s) in unknown state: the provider "
                           "may or may not have sent them; they are not resent.", "yellow"))
    table = Table()
    for column in ("community", "role", "status", "messages", "next step"):
        table.add_column(column)
    for c in doc["communities"]:
        states: dict[str, int] = {}
        for m in c["messages"]:
            states[m["state"]] = states.get(m["state"], 0) + 1
        nxt = c["next_step"]
        table.add_row(plain(c["name"]), plain(c["role"]), plain(c["status"] + (
            f" ({c['acknowledged_by']})" if c["acknowledged_by"] else "")),
            plain(", ".join(f"{k} {v}" for k, v in states.items()) or "-"),
            plain(f"{nxt['notify']} at {nxt['due']}" if nxt else "-"))
    stdout.print(table)
    for e in doc["timeline"][-30:]:
        stdout.print(f"{e['at']} {e['kind']} {e.get('community') or ''}")


@incident_app.command("ack")
@audited("incident.ack", lambda kw: f"incident:{kw.get('incident_id')}")
def ack_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="ID"),
    community: str = typer.Option(..., "--community", help="The community that was reached."),
    contact: str | None = typer.Option(None, "--contact", help="Who was reached."),
    note: str | None = typer.Option(None, "--note", help="A note for the timeline."),
) -> None:
    """Staff mark a community as reached: its remaining steps stop."""
    from engine.incidents import service
    from engine.privacy.texts import note_problem
    from engine.store.db import session_scope

    problem = note_problem(note)
    if problem:
        raise InputError(f"--note: {problem}")
    app: AppContext = ctx.obj
    by = f"contact:{contact}" if contact else "staff:cli"
    with session_scope(app.engine) as session:
        changed = service.acknowledge(session=session, incident_id=incident_id,
                                      community_ids=[community], by=by, now=app.clock.now(),
                                      via="staff", note=note)
    stderr.print(f"{community}: " + ("marked reached" if changed else "was already reached"))


@incident_app.command("close")
@audited("incident.close", lambda kw: f"incident:{kw.get('incident_id')}")
def close_command(ctx: typer.Context,
                  incident_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close an incident: timers stop, the record stays."""
    from engine.incidents import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        closed = service.close(session=session, incident_id=incident_id, now=app.clock.now(),
                               actor="staff:cli")
    stderr.print(f"incident {incident_id} " + ("closed" if closed else "was already closed"))


class ExportFormat(StrEnum):
    """Formats of `incident export`."""

    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"
    pdf = "pdf"


class SheetFormat(StrEnum):
    """Formats of `incident callsheet`."""

    html = "html"
    pdf = "pdf"


class Lang(StrEnum):
    """Languages of the reports."""

    nl = "nl"
    en = "en"


OUTPUT_OPTION = typer.Option(None, "--output", help="Write to this file (default: stdout).")
LANG_OPTION = typer.Option(Lang.nl, "--lang", help="Language of the report: nl or en.")


@incident_app.command("export")
def export_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="ID"),
    fmt: ExportFormat = typer.Option(..., "--format", help="jsonl, csv (the timeline) or md, "
                                     "html, pdf (the evaluation report)."),
    output: Path | None = OUTPUT_OPTION,
    include_pii: bool = typer.Option(False, "--include-pii",
                                     help="Include names, numbers and free text (recorded)."),
    lang: Lang = LANG_OPTION,
) -> None:
    """After-action export: the timeline as data, or the evaluation report."""
    from engine.reports.recording import cli_actor
    from engine.reports.service import export_incident

    app: AppContext = ctx.obj
    export_incident(app.engine, incident_id=incident_id, fmt=fmt.value, output=output,
                    include_pii=include_pii, lang=lang.value, actor=cli_actor(),
                    now=as_utc(app.clock.now()))
    if output is not None:
        stderr.print(f"incident {incident_id}: {fmt.value} written to {output}"
                     + (" (with personal data, recorded)" if include_pii else ""))


@incident_app.command("callsheet")
def callsheet_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="ID"),
    fmt: SheetFormat = typer.Option(SheetFormat.html, "--format", help="html or pdf."),
    output: Path | None = OUTPUT_OPTION,
    lang: Lang = LANG_OPTION,
) -> None:
    """The printable call sheet: per community its contacts, numbers and a short script."""
    from engine.reports.recording import cli_actor
    from engine.reports.service import write_callsheet

    app: AppContext = ctx.obj
    write_callsheet(app.engine, incident_id=incident_id, fmt=fmt.value, output=output,
                    lang=lang.value, actor=cli_actor(), now=as_utc(app.clock.now()))
    if output is not None:
        stderr.print(f"incident {incident_id}: call sheet written to {output} "
                     "(personal data, recorded)")
