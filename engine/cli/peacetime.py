"""Peace time on the command line: `contact ...`, `agreement ...`, `peacetime ...`,
`staff handover`, and the peace-time blocks of `registry health` and `incident show`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from engine.cli.auditing import audited
from engine.cli.output import emit_json, plain, stderr, stdout, styled
from engine.errors import InputError

# The services and the store are imported by the command that runs: `--help` loads neither.
if TYPE_CHECKING:
    from engine.peacetime.due import DueReport
    from engine.peacetime.readiness import Readiness
    from engine.wiring import AppContext

contact_app = typer.Typer(no_args_is_help=True)
agreement_app = typer.Typer(no_args_is_help=True)
peacetime_app = typer.Typer(no_args_is_help=True)
staff_app = typer.Typer(no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="One JSON document on stdout.")
WEEKDAY_NAMES = ("maandag / Monday", "dinsdag / Tuesday", "woensdag / Wednesday",
                 "donderdag / Thursday", "vrijdag / Friday", "zaterdag / Saturday",
                 "zondag / Sunday")


class ContactKind(StrEnum):
    """Kinds of peace-time contact."""

    visit = "visit"
    call = "call"
    meeting = "meeting"
    event = "event"


class ReportFormat(StrEnum):
    """Formats of `peacetime report`."""

    md = "md"
    html = "html"


class Lang(StrEnum):
    """Languages of the report."""

    nl = "nl"
    en = "en"


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text[:40]!r}: not a date (YYYY-MM-DD) / geen datum") from None


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


# --- contact ----------------------------------------------------------------------------------


@contact_app.command("log")
@audited("contact.log", lambda kw: "contactlog")
def log_command(
    ctx: typer.Context,
    communities: list[str] = typer.Option(..., "--community", help="Community id; repeat it "
                                          "for a meeting that brings several together."),
    kind: ContactKind = typer.Option(..., "--kind", help="visit, call, meeting or event."),
    by: str = typer.Option(..., "--by", help="The staff member who made the contact."),
    persons: list[str] = typer.Option([], "--with", help="A contact (key figure) met; "
                                      "repeatable."),
    at: str | None = typer.Option(None, "--at", help="When, ISO 8601 with offset or Z "
                                  "(default: now)."),
    place: str | None = typer.Option(None, "--place", help="Where (at most 200 characters)."),
    neutral_ground: bool = typer.Option(False, "--neutral-ground", help="Met on neutral "
                                        "ground (town hall, library, community centre)."),
    note: str | None = typer.Option(None, "--note", help="A note (personal data: left out of "
                                    "listings unless asked, erased by purge)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Log a peace-time contact with one or more communities."""
    from engine.incidents.options import parse_at
    from engine.peacetime import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    when = parse_at(at, app.clock)
    with session_scope(app.engine) as session:
        entry = service.log_contact(session=session, communities=communities, kind=kind.value,
                                    by=by, persons=persons, at=when, now=app.clock.now(),
                                    place=place, neutral_ground=neutral_ground, note=note)
    if as_json:
        emit_json(entry.as_dict())
        return
    stdout.print(plain(f"contact {entry.id} vastgelegd / logged: {entry.kind}, "
                       f"{', '.join(entry.communities)}"))


@contact_app.command("list")
def list_command(
    ctx: typer.Context,
    community: str | None = typer.Option(None, "--community", help="Only this community."),
    since: str | None = typer.Option(None, "--since", help="From this day, YYYY-MM-DD."),
    include_notes: bool = typer.Option(False, "--include-notes", help="Show the notes "
                                       "(personal data)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Logged contacts, newest first."""
    from engine.peacetime import service
    from engine.peacetime.due import local_text
    from engine.store.db import session_scope
    from engine.store.models import Community

    app: AppContext = ctx.obj
    day = _day(since, "--since")
    zone = app.load_playbook().timezone
    if community is not None:
        with session_scope(app.engine, read_only=True) as session:
            if session.get(Community, community) is None:
                raise InputError(f"--community {community[:80]}: no such community / "
                                 "onbekende gemeenschap")
    entries = service.list_contacts(engine=app.engine, community=community,
                                    since=_day_start(day, zone) if day else None,
                                    include_notes=include_notes)
    if include_notes:
        stderr.print("let op: bevat persoonsgegevens / note: holds personal data",
                     markup=False, highlight=False)
    if as_json:
        emit_json({"contacts": [e.as_dict() for e in entries]})
        return
    stdout.print(plain(f"Contactmomenten / contacts: {len(entries)}"))
    for e in entries:
        line = (f"#{e.id} {local_text(e.at, zone)} {e.kind} ({e.by}): "
                f"{', '.join(e.communities)}")
        if e.persons:
            line += f"; met / with {', '.join(e.persons)}"
        if e.place:
            line += f"; {e.place}"
        if e.neutral_ground:
            line += " (neutrale grond / neutral ground)"
        stdout.print(plain(line))
        if include_notes and e.note:
            stdout.print(plain(f"    notitie / note: {e.note}"))


@contact_app.command("import")
@audited("contact.import", lambda kw: "contactlog")
def import_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A folder with contactlog*.csv and agreements*.csv, "
                                "or one such file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import contact history and agreements from CSV, all or nothing."""
    from engine.peacetime.history import import_history

    app: AppContext = ctx.obj
    counts = import_history(engine=app.engine, path=path, now=app.clock.now())
    if as_json:
        emit_json(counts)
        return
    stdout.print(plain(f"geimporteerd / imported: {counts['contacts']} contactmomenten/contacts, "
                       f"{counts['agreements']} afspraken/agreements"))


# --- agreement --------------------------------------------------------------------------------


@agreement_app.command("add")
@audited("agreement.add", lambda kw: f"community:{kw.get('community')}")
def agreement_add_command(
    ctx: typer.Context,
    community: str = typer.Option(..., "--community", help="The community."),
    text: str = typer.Option(..., "--text", help="What was agreed (at most 500 characters)."),
    due: str | None = typer.Option(None, "--due", help="Due date, YYYY-MM-DD."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a goal set together with a community."""
    from engine.peacetime import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    day = _day(due, "--due")
    with session_scope(app.engine) as session:
        doc = service.add_agreement(session=session, community=community, text=text, due=day,
                                    now=app.clock.now())
    if as_json:
        emit_json(doc)
        return
    stdout.print(plain(f"afspraak / agreement {doc['id']}: {doc['text']}"))


@agreement_app.command("done")
@audited("agreement.done", lambda kw: f"agreement:{kw.get('agreement_id')}")
def agreement_done_command(
    ctx: typer.Context,
    agreement_id: int = typer.Argument(..., metavar="ID", help="The agreement's id."),
) -> None:
    """Mark an agreement done."""
    from engine.peacetime import service
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        changed = service.finish_agreement(session=session, agreement_id=agreement_id,
                                           now=app.clock.now())
    stdout.print(plain(f"afspraak / agreement {agreement_id}: " + (
        "afgerond / done" if changed else "was al afgerond / was done already")))


# --- peacetime --------------------------------------------------------------------------------


@peacetime_app.command("due")
def due_command(
    ctx: typer.Context,
    liaison: str | None = typer.Option(None, "--liaison", help="Only this liaison's "
                                       "communities."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Communities overdue or due for contact soon, per liaison."""
    from engine.peacetime import service

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    report = service.due_communities(engine=app.engine, playbook=playbook,
                                     now=app.clock.now(), liaison=liaison)
    if as_json:
        emit_json(report.as_dict())
        return
    print_due(report)


def print_due(report: DueReport) -> None:
    """The text form of `peacetime due`."""
    from engine.peacetime.texts import agreement_lines

    if not report.configured:
        stderr.print("het draaiboek heeft geen peacetime-sectie / the playbook has no "
                     "peacetime section", markup=False, highlight=False)
    for liaison, items in sorted(report.liaisons.items()):
        who = f"{report.names.get(liaison, liaison)} ({liaison})" if liaison else \
            "zonder contactambtenaar / no liaison"
        stdout.print(styled((f"{who}: {len(items)}", "bold")))
        for i in items:
            status = {"never": "nooit gesproken / never contacted",
                      "overdue": f"{i['days']} d te laat / overdue",
                      "due": f"over / in {i['days']} d"}[i["status"]]
            stdout.print(styled(f"  {i['name']} ({i['community']}): ",
                                (status, "yellow" if i["status"] == "due" else "red"),
                                f"; elke / every {i['every_days']} d; laatste / last: "
                                f"{i['last_contact_local'] or '-'}"))
            for line in agreement_lines(i["agreements"], "      "):
                stdout.print(plain(line))
    stdout.print(plain(f"{report.count} gemeenschap(pen) aan de beurt binnen "
                       f"{report.within_days} dagen / communit(y/ies) due within "
                       f"{report.within_days} days"))


@peacetime_app.command("digest")
def digest_command(
    ctx: typer.Context,
    liaison: str | None = typer.Option(None, "--liaison", help="Only this liaison's digest."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the digest each liaison would get now (the worker sends it weekly); sends nothing."""
    from engine.peacetime import service

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    previews = service.preview_digests(engine=app.engine, playbook=playbook,
                                       now=app.clock.now(), liaison=liaison)
    if as_json:
        emit_json({"digests": previews})
        return
    if playbook.peacetime is not None:
        d = playbook.peacetime.digest
        when = ("elke dag / daily" if d.every == "daily" else
                f"wekelijks / weekly ({WEEKDAY_NAMES[d.weekday]})")
        stderr.print(plain(f"de worker verstuurt / the worker sends: {when} {d.hour:02d}:00 "
                           f"{playbook.timezone}"))
    for p in previews:
        stdout.print(styled((f"Aan / to: {p['liaison']} <{p['email'] or '-'}>", "bold")))
        stdout.print(plain(f"Onderwerp / subject: {p['subject']}"))
        stdout.print(plain(p["body"]))
    if not previews:
        stdout.print(plain("niets te versturen / nothing due"))


@peacetime_app.command("report")
def report_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (playbook's zone)."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (inclusive)."),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format", help="md or html."),
    output: Path | None = typer.Option(None, "--output", help="Write to this file."),
    lang: Lang = typer.Option(Lang.nl, "--lang", help="Language: nl or en."),
) -> None:
    """Peace-time figures of a period: contacts, neutral ground, never contacted, agreements."""
    from engine.reports.peacetime import write_peacetime_report
    from engine.reports.period import parse_day, period_bounds

    app: AppContext = ctx.obj
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    zone = app.load_playbook().timezone
    begin, finish = period_bounds(first, last, zone)
    write_peacetime_report(app.engine, start=begin, end=finish, zone=zone, fmt=fmt.value,
                           output=output, lang=lang.value, now=app.clock.now())
    if output is not None:
        stderr.print(plain(f"report {first.isoformat()}..{last.isoformat()} written to {output}"))


# --- staff ------------------------------------------------------------------------------------


@staff_app.command("handover")
@audited("staff.handover", lambda kw: f"staff:{kw.get('previous')}")
def handover_command(
    ctx: typer.Context,
    previous: str = typer.Argument(..., metavar="S1", help="The liaison handing over."),
    liaison: str = typer.Option(..., "--to", help="The new liaison."),
    communities: list[str] = typer.Option([], "--community", help="Only these communities "
                                          "(default: all of S1's); repeatable."),
    no_send: bool = typer.Option(False, "--no-send", help="Only queue the messages; a "
                                 "running worker sends them."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move communities to a new liaison: briefing to them, introduction to key figures."""
    from engine.peacetime import service
    from engine.store.db import session_scope
    from engine.wiring import build_worker

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    with session_scope(app.engine) as session:
        done = service.hand_over(session=session, previous=previous, liaison=liaison,
                                 communities=communities, playbook=playbook,
                                 now=app.clock.now())
    if not no_send:
        try:
            build_worker(app, kind="cli").run_cycle()
        except Exception as exc:  # the handover stands: a running worker sends what is queued
            stderr.print(plain(f"warning: the handover is recorded, but sending from this "
                               f"process stopped ({type(exc).__name__}); a running `verbinder "
                               "worker` sends the messages. Do not hand over again."))
    if as_json:
        emit_json(done.as_dict())
        return
    stdout.print(plain(f"{len(done.communities)} gemeenschap(pen) van / communit(y/ies) from "
                       f"{previous} naar / to {liaison}: {', '.join(done.communities)}"))
    briefed = "ja / yes" if done.briefing else "nee (geen e-mail) / no (no email)"
    stdout.print(plain(f"briefing: {briefed}; introducties / introductions: "
                       f"{done.introductions}"))
    if done.not_introduced:
        stdout.print(plain("niet geintroduceerd (geen toestemming of adres) / not introduced "
                           "(no consent or address): " + ", ".join(done.not_introduced),
                           "yellow"))


# --- blocks of other commands -----------------------------------------------------------------


def readiness_for(app: AppContext, now: datetime) -> Readiness | None:
    """The peace-time sections of `registry health`; None (with a warning) when the
    configured playbook cannot be loaded."""
    from engine.peacetime import service

    try:
        playbook = app.load_playbook()
    except InputError as exc:
        stderr.print(plain(f"peace-time checks left out: playbook: {exc.problems[0]}"))
        return None
    return service.crisis_readiness(engine=app.engine, playbook=playbook, now=now,
                                    consent_stale_days=app.settings.consent_stale_days)


def print_readiness(ready: Readiness) -> None:
    """The peace-time sections of `registry health`, in text."""
    ok = len(ready.communities) - len(ready.not_ready)
    stdout.print(styled(("Crisisklaar / crisis-ready", "bold"),
                        f": {ok}/{len(ready.communities)}"))
    table = Table(title=plain("Crisisklaar per soort / crisis-ready per kind"),
                  title_justify="left")
    for column in ("kind", "ready", "total", "share"):
        table.add_column(column)
    for kind, k in ready.by_kind.items():
        table.add_row(plain(kind), str(k["ready"]), str(k["total"]),
                      f"{round(100 * k['share'])}%")
    stdout.print(table)
    if ready.not_ready:
        table = Table(title=plain(f"Niet crisisklaar / not crisis-ready: {len(ready.not_ready)}"),
                      title_justify="left")
        for column in ("id", "name", "reasons"):
            table.add_column(column)
        for c in ready.not_ready:
            table.add_row(plain(c["id"]), plain(c["name"]), plain("\n".join(
                _reason_text(r) for r in c["reasons"])))
        stdout.print(table)
    if ready.liaison_churn:
        table = Table(title=plain("Contactambtenaar vaak gewisseld (>2 keer in 12 maanden) / "
                                  f"liaison changed often (>2 in 12 months): "
                                  f"{len(ready.liaison_churn)}"), title_justify="left")
        for column in ("id", "name", "changes"):
            table.add_column(column)
        for c in ready.liaison_churn:
            table.add_row(plain(c["id"]), plain(c["name"]), str(c["changes"]))
        stdout.print(table)
    else:
        stdout.print(styled(("OK", "green"), " Contactambtenaar vaak gewisseld / liaison "
                            "changed often: 0"))


def _reason_text(reason: str) -> str:
    from engine.peacetime.readiness import REASONS

    code, _, detail = reason.partition(": ")
    return REASONS.get(code, code) + (f": {detail}" if detail else "")


def incident_agreements(app: AppContext, doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The open agreements of an incident's communities: the relationship's context."""
    from engine.peacetime import service

    ids = [c["id"] for c in doc.get("communities", []) if c.get("id")]
    return service.open_agreements(engine=app.engine, communities=ids)


def print_incident_agreements(agreements: dict[str, list[dict[str, Any]]]) -> None:
    """The `incident show` block of open agreements with the communities hit."""
    if not agreements:
        return
    stdout.print(styled(("Open afspraken met deze gemeenschappen / open agreements with "
                         "these communities", "bold")))
    for community, items in sorted(agreements.items()):
        for a in items:
            stdout.print(plain(f"  {community}: #{a['id']} {a['text']}"
                               + (f" (uiterlijk / due {a['due']})" if a["due"] else "")))
