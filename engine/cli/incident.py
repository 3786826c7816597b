"""`verbinder incident ...`: preview, declare, list, show, ack, close, export, callsheet."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from engine.audit.acting import cli_actor
from engine.cli.auditing import audited
from engine.cli.output import (
    AfterCommit,
    SafeConsole,
    emit_json,
    paused_gc,
    plain,
    stderr,
    stdout,
    styled,
)
from engine.cli.peacetime import incident_agreements, print_incident_agreements
from engine.cli.show import print_show
from engine.cli.times import local_time, people_zone
from engine.clock import as_utc
from engine.errors import InputError

# The services, the store and the playbook's rules engine are imported by the command that
# runs (as `service` and so on in its body): `incident --help` loads none of them.
if TYPE_CHECKING:
    from engine.incidents.options import IncidentOptions
    from engine.wiring import AppContext
    from playbook.builder import Checklist
    from playbook.model import IncidentInput, Playbook

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


@incident_app.command("types")
def types_command(ctx: typer.Context,
                  as_json: bool = typer.Option(False, "--json", help="One JSON document.")
                  ) -> None:
    """The playbook's incident types: label, default severity and fields."""
    with paused_gc():  # imports the loader and loads the playbook once, then exits
        from engine.playbooks.service import FIELD_TYPE_TEXTS, incident_types

        app: AppContext = ctx.obj
        doc = incident_types(playbook=app.load_playbook()).as_dict()
    if as_json:
        emit_json(doc)
        return
    for t in doc["incident_types"]:
        # the two languages of the command line (the JSON has every label)
        shown = [t["labels"][k] for k in ("nl", "en") if k in t["labels"]] or list(
            t["labels"].values())
        labels = " / ".join(dict.fromkeys(shown)) or t["label"]
        stdout.print(styled((t["id"], "bold"), f"  {labels}  (ernst/severity "
                            f"{t['default_severity']})"))
        for f in t["fields"]:
            need = "verplicht/required" if f["required"] else "optioneel/optional"
            what = FIELD_TYPE_TEXTS.get(f["type"], f["type"])
            values = f": {', '.join(f['values'])}" if f["values"] else ""
            stdout.print(plain(f"    --field {f['name']}=...  {f['type']}, {need}; "
                               f"{what}{values}"))
        if not t["fields"]:
            stdout.print(plain("    (geen velden / no fields)"))


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
    every: bool = typer.Option(False, "--all", help="List every community and warning (text "
                               "form; default: a summary by role and the first 50)."),
) -> None:
    """The checklist for an incident, changing nothing."""
    with paused_gc():  # reads the registry and builds the checklist once, then exits
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
    """The checklist as readable tables (Dutch / English headings); data printed as text:
    warnings, the head, a summary by role, then the first communities (`every`: all)."""
    from engine.cli.checklist import print_communities, print_role_summary

    doc = replace(checklist, communities=()).to_json()  # the head only: no row documents
    incident = doc["incident"]
    zone = checklist.playbook.timezone
    print_warnings(checklist.warnings, every=every)
    stdout.print(styled((incident["title"], "bold"),
                        f" ({incident['type']}), ernst/severity {incident['severity']}, "
                        f"{local_time(incident['declared_at'], zone)}",
                        (" OEFENING / EXERCISE" if incident["exercise"] else "", "yellow")))
    if checklist.incident_tasks:
        tasks = Table(title="Incidenttaken / Incident tasks")
        for column in ("taak/task", "titel/title", "deadline/due"):
            tasks.add_column(column)
        for task in doc["incident_tasks"]:
            tasks.add_row(plain(task["id"]), plain(task["title"]),
                          plain(local_time(task["due"], zone)))
        stdout.print(tasks)
    if checklist.communities:
        print_role_summary(checklist)
        print_communities(checklist, public_url=public_url, smart_encoding=smart_encoding,
                          every=every)
    if not checklist.communities:
        stdout.print("Geen gemeenschap geselecteerd / no community matched.")


WARNINGS = 20  # warnings listed without --all (a large registry can give one per community)


def print_warnings(warnings: Sequence[str], console: SafeConsole = stdout, *,
                   every: bool = True) -> None:
    """Warnings, before anything else, in colour: what the coordinator may have got wrong;
    the first `WARNINGS` unless `every`, printed as one block."""
    if not warnings:
        return
    shown = warnings if every else warnings[:WARNINGS]
    block = Text("\n").join([
        plain(f"{len(warnings)} waarschuwing(en) / warning(s):", "bold yellow"),
        *(styled(("! ", "bold yellow"), (warning, "yellow")) for warning in shown)])
    rest = len(warnings) - len(shown)
    if rest:
        block.append(plain(f"\n... en nog {rest} / and {rest} more: --all toont ze allemaal / "
                           "lists every one", "yellow"))
    console.print(block)


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
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="No question on a terminal; declare even when the same "
                                  "incident is open (declared in the last 24 hours)."),
) -> None:
    """Declare an incident: store it, start outreach and timers; print its id and checklist.

    On a terminal it first shows the checklist and asks; `--yes`, `--json` and scripts (stdin
    not a terminal) are never asked. An open incident of the same type and target declared in
    the last 24 hours refuses the declaration (exit 2) unless `--yes` is given.
    """
    from engine.incidents import service
    from engine.incidents.options import IncidentOptions, incident_input_from_options
    from engine.store.db import session_scope
    from engine.wiring import build_worker

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    options = IncidentOptions(type=type_, severity=severity, area=area, lat=lat, lon=lon,
                              fields=tuple(field), title=title, exercise=exercise, at=at)
    incident = incident_input_from_options(playbook, options, app.clock)
    now = as_utc(app.clock.now())
    _refuse_duplicates(app, playbook, incident, now, yes=yes)
    no_worker = _no_worker_warning(app, now)
    if not (yes or as_json) and stdin_is_terminal():
        _confirm(app, service.preview(engine=app.engine, playbook=playbook, incident=incident),
                 no_worker)
        no_worker = None  # said already
        if at is None:  # declared when the person said yes, not when the question was put
            now = as_utc(app.clock.now())
            incident = replace(incident, declared_at=now)
    with session_scope(app.engine) as session:
        declared = service.declare(session=session, playbook=playbook, incident=incident,
                                   now=now)
    # Committed: from here on nothing may turn into a failing exit status, or a person or
    # script that retries would declare the incident twice.
    incident_id, doc = declared.incident_id, declared.checklist
    say = AfterCommit(incident_id)
    if not as_json:
        say.out(lambda: print_warnings(doc["warnings"]))
    say.err(f"incident {incident_id} declared")
    if send:
        try:
            result = build_worker(app, name=f"cli-{incident_id}").run_cycle()
        except (Exception, KeyboardInterrupt) as exc:
            say.sending_failed(exc)
        else:
            say.err(f"outreach started: {result.queued} messages queued, sent: {result.sent}")
    if no_worker is not None:
        say.err(no_worker)
    if as_json:
        for warning in doc["warnings"]:
            say.err(f"warning: {warning}")
        say.out(lambda: emit_json(doc))
        return
    say.out(lambda: stdout.print(_declared_table(incident_id, doc, playbook.timezone)))


def stdin_is_terminal() -> bool:
    """Whether a person sits at this command (stdin is a terminal): only then it asks."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _refuse_duplicates(app: AppContext, playbook: Playbook, incident: IncidentInput,
                       now: datetime, *, yes: bool) -> None:
    """Name open incidents of the same type and target of the last 24 hours; without --yes
    that refuses the declaration (exit 2, nothing stored)."""
    from engine.incidents import service
    from engine.store.db import session_scope

    with session_scope(app.engine, read_only=True) as session:
        same = service.open_duplicates(session=session, playbook=playbook, incident=incident,
                                       now=now)
    zone = playbook.timezone
    lines = [f"incident {d['id']} ({d['title']}, {d['type']}) is open, declared "
             f"{local_time(d['declared_at'], zone)}: same type and target / zelfde type en "
             "doel" for d in same]
    if not same:
        return
    if not yes:
        raise InputError([*lines, "not declared: declaring it again needs --yes / niet "
                          "afgekondigd: opnieuw afkondigen kan alleen met --yes"])
    for line in lines:
        stderr.print(styled(("warning: ", "bold yellow"), line))


def _no_worker_warning(app: AppContext, now: datetime) -> str | None:
    """What to start when no worker beat its heartbeat lately (later steps need one)."""
    from engine.incidents import service

    within = max(service.NO_WORKER_AFTER,
                 timedelta(seconds=3 * app.settings.worker_heartbeat_seconds))
    if service.worker_seen(engine=app.engine, now=now, within=within):
        return None
    minutes = int(within.total_seconds() // 60)
    return (f"warning: geen worker gezien in de laatste {minutes} minuten: latere "
            "escalatiestappen en nazorg gaan pas uit als `verbinder worker` of `verbinder "
            f"serve` draait / no worker seen alive in the last {minutes} minutes: later "
            "escalation steps and follow-ups are only sent while `verbinder worker` or "
            "`verbinder serve` runs; start one")


def _confirm(app: AppContext, checklist: Checklist, no_worker: str | None) -> None:
    """Show the checklist (warnings first) and ask; anything but yes declares nothing."""
    print_checklist(checklist, app.settings.public_url,
                    smart_encoding=app.settings.sms_smart_encoded)
    if no_worker is not None:
        stdout.print(plain(no_worker, "bold yellow"))
    n = len(checklist.communities)
    stdout.print(plain(f"Afkondigen en {n} gemeenschap(pen) benaderen? / Declare and reach "
                       f"{n} communit{'y' if n == 1 else 'ies'}? [j/y/N] "), end="")
    try:
        answer = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        answer = ""
    if answer.strip().casefold() not in ("j", "ja", "y", "yes"):
        stderr.print("niet afgekondigd / not declared")
        raise typer.Exit(1)


def _declared_table(incident_id: int, doc: dict[str, Any], zone: str) -> Table:
    table = Table(title=plain(f"Incident {incident_id}: {doc['incident']['title']} "
                              f"({local_time(doc['incident']['declared_at'], zone)})"))
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
    zone = people_zone(app)
    table = Table(title="Incidenten / Incidents")
    for column in ("id", "afgekondigd/declared", "type", "title", "status", "reached"):
        table.add_column(column)
    for r in rows:
        table.add_row(plain(r["id"]), plain(local_time(r["declared_at"], zone)), plain(r["type"]),
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
        doc = service.show_incident(session=session, incident_id=incident_id,
                                    now=as_utc(app.clock.now()))
    agreements = incident_agreements(app, doc)  # peace time: the relationship's context
    if as_json:
        emit_json({**doc, "agreements": agreements})
        return
    print_show(doc, zone=doc["incident"].get("timezone") or people_zone(app),
               between=lambda: print_incident_agreements(agreements))


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


@incident_app.command("task")
@audited("incident.task", lambda kw: f"incident:{kw.get('incident_id')}")
def task_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="ID"),
    task: str = typer.Option(..., "--task", help="The task id (incident show lists them)."),
    community: str | None = typer.Option(None, "--community",
                                         help="The community (none: an incident task)."),
    note: str | None = typer.Option(None, "--note", help="A note for the timeline."),
    undo: bool = typer.Option(False, "--undo", help="Open the task again."),
) -> None:
    """Staff tick a task done (an incident task without --community), or open it again."""
    from engine.incidents import service
    from engine.privacy.texts import note_problem
    from engine.store.db import session_scope

    problem = note_problem(note)
    if problem:
        raise InputError(f"--note: {problem}")
    app: AppContext = ctx.obj
    by = cli_actor()
    with session_scope(app.engine) as session:
        changed = service.tick_task(session=session, incident_id=incident_id, task_id=task,
                                    community_id=community, by=by, now=as_utc(app.clock.now()),
                                    note=note, undo=undo)
    where = f"{community}: " if community else ""
    if undo:
        word = "weer open / open again" if changed else "was al open / was already open"
    else:
        word = "afgevinkt / done" if changed else "was al afgevinkt / was already done"
    stderr.print(plain(f"{where}{task}: {word}"))


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
