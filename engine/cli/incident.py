"""`verbinder incident ...`: preview, declare, list, show, ack, close."""

from __future__ import annotations

import typer
from rich.table import Table

from engine.cli.auditing import audited
from engine.cli.output import AfterCommit, emit_json, plain, stderr, stdout, styled
from engine.clock import as_utc
from engine.errors import InputError
from engine.incidents.flows import acknowledge, close_incident, declare_incident_flow
from engine.incidents.options import IncidentOptions, incident_input_from_options
from engine.incidents.views import list_incidents, show_incident
from engine.playbooks.service import load_configured
from engine.privacy.texts import note_problem
from engine.registry.service import load_snapshot
from engine.store.db import reading, session_scope
from engine.wiring import AppContext
from playbook.builder import Checklist, CommunityItem, build_checklist
from playbook.model import Playbook
from playbook.render import language_chain, message_context, render_message

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
    from engine.worker import Worker

    app: AppContext = ctx.obj
    playbook = load_configured(app)
    options = IncidentOptions(type=type_, severity=severity, area=area, lat=lat, lon=lon,
                              fields=tuple(field), title=title, exercise=exercise, at=at)
    incident = incident_input_from_options(playbook, options, app.clock)
    with session_scope(app.engine) as session:
        snapshot = load_snapshot(session.connection())
        row, doc = declare_incident_flow(session, playbook=playbook, incident=incident,
                                         snapshot=snapshot, now=as_utc(app.clock.now()))
    # Committed: from here on nothing may turn into a failing exit status, or a person or
    # script that retries would declare the incident twice.
    incident_id = int(doc["incident"]["id"])
    say = AfterCommit(incident_id)
    say.err(f"incident {incident_id} declared")
    if send:
        try:
            result = Worker(app, name=f"cli-{row.id}").run_cycle()
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


def _declared_table(incident_id: int, doc: dict) -> Table:
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
    app: AppContext = ctx.obj
    with session_scope(app.engine, read_only=True) as session:
        rows = list_incidents(session)
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
    app: AppContext = ctx.obj
    with session_scope(app.engine, read_only=True) as session:
        doc = show_incident(session, incident_id)
    if as_json:
        emit_json(doc)
        return
    head, summary = doc["incident"], doc["summary"]
    stdout.print(styled((f"Incident {head['id']}", "bold"), f": {head['title']} ({head['type']}, "
                        f"severity {head['severity']}, {head['status']})"))
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
    problem = note_problem(note)
    if problem:
        raise InputError(f"--note: {problem}")
    app: AppContext = ctx.obj
    by = f"contact:{contact}" if contact else "staff:cli"
    with session_scope(app.engine) as session:
        changed = acknowledge(session, incident_id=incident_id, community_ids=[community], by=by,
                              now=app.clock.now(), via="staff", note=note)
    stderr.print(f"{community}: " + ("marked reached" if changed else "was already reached"))


@incident_app.command("close")
@audited("incident.close", lambda kw: f"incident:{kw.get('incident_id')}")
def close_command(ctx: typer.Context,
                  incident_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close an incident: timers stop, the record stays."""
    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        closed = close_incident(session, incident_id=incident_id, now=app.clock.now(),
                                actor="staff:cli")
    stderr.print(f"incident {incident_id} " + ("closed" if closed else "was already closed"))
