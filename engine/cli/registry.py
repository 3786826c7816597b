"""`verbinder registry ...`: import, export, health."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from engine.cli.auditing import audited
from engine.cli.output import emit_json, plain, stderr, stdout, styled
from engine.cli.peacetime import print_readiness, readiness_for
from engine.errors import InputError

# The services (and the store under them) are imported by the command that runs: `--help`
# loads none of them (engine.cli.lazy).
if TYPE_CHECKING:
    from engine.registry.health import HealthReport
    from engine.registry.importer import ImportReport
    from engine.wiring import AppContext

registry_app = typer.Typer(no_args_is_help=True)

_TABLE_NL = {"communities": "gemeenschappen", "contacts": "contactpersonen", "staff": "medewerkers"}
FORMATS = ("csv", "json", "html")


@registry_app.command("import")
@audited("registry.import", lambda _: "registry")
def import_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        ..., help="communities*.csv, contacts*.csv, staff*.csv, one .xlsx, or a folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Import the social map, all or nothing (REGISTRY.md)."""
    from engine.registry import service
    from engine.registry.problems import RegistryImportError

    app: AppContext = ctx.obj
    try:
        report = service.import_registry(engine=app.engine, paths=paths, clock=app.clock,
                                         dry_run=dry_run)
    except RegistryImportError as exc:
        if as_json:
            emit_json({"errors": [p.as_dict() for p in exc.details]})
        stderr.print(f"Import geweigerd, er is niets gewijzigd: {len(exc.details)} probleem/"
                     f"problemen. / Import refused, nothing was changed: {len(exc.details)} "
                     "problem(s).", markup=False, highlight=False)
        raise
    for warning in report.warnings:
        stderr.print(f"let op / warning: {warning}", markup=False, highlight=False)
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_import(report)


def _print_import(report: ImportReport) -> None:
    if report.dry_run:
        stdout.print("Proefimport, niets opgeslagen / dry run, nothing written", markup=False)
    for name, t in report.tables.items():
        if not t.included:
            stdout.print(f"{_TABLE_NL[name]} / {name}: niet in de import, ongewijzigd / "
                         "not in the import, left as they are", markup=False, highlight=False)
            continue
        c = t.counts()
        stdout.print(
            f"{_TABLE_NL[name]} / {name}: {c['added']} toegevoegd/added, {c['changed']} "
            f"gewijzigd/changed, {c['deactivated']} verwijderd (gedeactiveerd)/removed "
            f"(deactivated), {c['unchanged']} ongewijzigd/unchanged",
            markup=False, highlight=False,
        )
    stdout.print(f"{report.changes} wijziging(en) / change(s)", markup=False, highlight=False)


@registry_app.command("export")
def export_command(
    ctx: typer.Context,
    public: bool = typer.Option(False, "--public", help="Communities only: no person at all."),
    fmt: str = typer.Option("json", "--format", help="csv, json or html."),
    output: Path | None = typer.Option(
        None, "--output", help="File (json, html) or folder (csv); default stdout."),
    include_inactive: bool = typer.Option(
        False, "--all", help="Include inactive rows, with an `active` column."),
) -> None:
    """Export the social map; `--public` leaves persons out."""
    from engine.registry import service
    from engine.registry.export import (
        PERSONS_NOTICE,
        render_csv,
        render_html,
        render_json,
        write_csv_folder,
        write_text,
    )

    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise InputError(f"--format: '{fmt}' moet csv, json of html zijn / must be csv, json or "
                         "html")
    if fmt == "csv" and output is None and not public:
        raise InputError("--format csv: geef --output MAP voor de drie bestanden / give "
                         "--output FOLDER for the three files")
    if fmt == "csv" and output is not None and output.exists() and not output.is_dir():
        raise InputError(f"--output: {output} is geen map / is not a folder")
    if fmt != "csv" and output is not None and output.is_dir():
        raise InputError(f"--output: {output} is een map; geef een bestand / is a folder; give a "
                         "file")
    app: AppContext = ctx.obj
    export = service.export_registry(engine=app.engine, public=public,
                                     include_inactive=include_inactive)
    if export.holds_persons:
        stderr.print(PERSONS_NOTICE, markup=False, highlight=False)
    if fmt == "csv" and output is not None:
        for path in write_csv_folder(export, output):
            stderr.print(f"geschreven / written: {path}", markup=False, highlight=False)
        return
    renderers = {"csv": lambda: render_csv(export, "communities"),
                 "json": lambda: render_json(export), "html": lambda: render_html(export)}
    content = renderers[fmt]()
    if output is None:
        sys.stdout.write(content)
        sys.stdout.flush()
    else:
        write_text(output, content, private=export.holds_persons)
        stderr.print(f"geschreven / written: {output}", markup=False, highlight=False)


@registry_app.command("health")
def health_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Peace-time gaps: communities with no or one eligible contact, consent, liaisons."""
    from engine.registry import service

    app: AppContext = ctx.obj
    playbook = app.load_playbook()
    report = service.registry_health(engine=app.engine, now=app.clock.now(),
                                     consent_stale_days=app.settings.consent_stale_days,
                                     playbook=playbook)
    ready = readiness_for(app, app.clock.now())  # peace time: its own sections
    if as_json:
        emit_json({**report.as_dict(), **({"peacetime": ready.as_dict()} if ready else {})})
    else:
        _print_health(report)
        if ready is not None:
            print_readiness(ready)


def _print_health(report: HealthReport) -> None:
    counts = report.counts
    stdout.print(
        f"Sociale kaart / social map: {counts['communities']['active']} gemeenschappen/"
        f"communities, {counts['contacts']['active']} contactpersonen/contacts, "
        f"{counts['staff']['active']} medewerkers/staff actief/active "
        f"({counts['communities']['inactive']}/{counts['contacts']['inactive']}/"
        f"{counts['staff']['inactive']} inactief/inactive)", markup=False, highlight=False)
    sections = [
        ("Geen bereikbare contactpersoon / No eligible contact", report.no_eligible,
         ("id", "name")),
        ("Maar een bereikbare contactpersoon (kwetsbaar) / Only one eligible contact "
         "(single point of failure)", report.one_eligible, ("id", "name", "contact")),
        ("Contactpersonen zonder toestemming / Contacts without consent",
         report.without_consent, ("id", "name", "community")),
        (f"Toestemming ouder dan {report.consent_stale_days} dagen / Consent older than "
         f"{report.consent_stale_days} days", report.consent_stale,
         ("id", "name", "community", "consent")),
        ("Zonder (actieve) contactambtenaar / Without an (active) liaison",
         report.without_liaison, ("id", "name", "liaison", "reason")),
        ("Contactpersonen van inactieve gemeenschappen / Contacts of inactive communities",
         report.orphaned_contacts, ("id", "name", "community")),
        ("Toestemming ingetrokken / Consent withdrawn", report.withdrawn,
         ("id", "name", "community", "withdrawn_at", "by")),
    ]
    for title, items, columns in sections:
        _print_section(title, items, columns)
    _print_languages(report.untranslated or [])
    if report.missing_staff_roles:
        stdout.print("Geen actieve medewerker met rol / No active staff with role: "
                     + ", ".join(report.missing_staff_roles), markup=False, highlight=False)
    stdout.print(f"{report.gaps} bevinding(en) / finding(s)", markup=False, highlight=False)


def _print_languages(items: list[dict[str, object]]) -> None:
    title = ("Talen van contactpersonen zonder sjabloon / Contact languages the playbook's "
             "templates lack")
    if not items:
        stdout.print(styled(("OK", "green"), f" {title}: 0"))
        return
    table = Table(title=plain(f"{title}: {len(items)}"), title_justify="left")
    for column in ("taal/language", "contactpersonen/contacts", "ontbreekt in/missing in"):
        table.add_column(column)
    for item in items:
        missing = item["templates_missing"]
        assert isinstance(missing, list)
        table.add_row(plain(item["language"]), plain(item["contacts"]),
                      plain("alle sjablonen / every template" if item["in_no_template"]
                            else ", ".join(missing)))
    stdout.print(table)


def _print_section(title: str, items: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    if not items:
        stdout.print(styled(("OK", "green"), f" {title}: 0"))
        return
    table = Table(title=plain(f"{title}: {len(items)}"), title_justify="left")
    for column in columns:
        table.add_column(column)
    for item in items:
        table.add_row(*(plain(item.get(c) or "") for c in columns))
    stdout.print(table)


@registry_app.command("withdraw")
@audited("registry.withdraw", lambda kw: f"contact:{kw.get('contact')}")
def withdraw_command(
    ctx: typer.Context,
    contact: str = typer.Argument(..., metavar="CONTACT", help="The contact's id."),
    note: str | None = typer.Option(None, "--note", help="Why, how it reached us (kept as "
                                    "personal data, erased by purge)."),
) -> None:
    """Record that a contact withdrew consent: left out of every later checklist and step."""
    from engine.privacy.consent import withdraw
    from engine.privacy.texts import note_problem
    from engine.store.db import session_scope

    problem = note_problem(note)
    if problem:
        raise InputError(f"--note: {problem}")
    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        done = withdraw(session, contact_id=contact, by="staff:cli", via="staff",
                        now=app.clock.now(), note=note)
    stderr.print(plain(f"{contact}: " + (
        "toestemming ingetrokken; niet meer benaderd / consent withdrawn; no longer contacted"
        if done else "had de toestemming al ingetrokken / had withdrawn consent already")))


@registry_app.command("access")
@audited("registry.access", lambda kw: f"contact:{kw.get('contact')}")
def access_command(
    ctx: typer.Context,
    contact: str = typer.Argument(..., metavar="CONTACT", help="The contact's id."),
    output: Path | None = typer.Option(None, "--output", help="File (owner-only); default "
                                       "stdout."),
) -> None:
    """Everything kept about one person (GDPR Art. 15), as one JSON document."""
    from engine.audit.log import append
    from engine.privacy.access import subject_data
    from engine.registry.export import PERSONS_NOTICE, write_text
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        doc = subject_data(session, contact)
        append(session, action="registry.access", object=f"contact:{contact}",
               at=app.clock.now(), details={"output": "file" if output else "stdout"})
    stderr.print(PERSONS_NOTICE, markup=False, highlight=False)
    if output is None:
        emit_json(doc)
        return
    write_text(output, json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n",
               private=True)
    stderr.print(f"geschreven / written: {output}", markup=False, highlight=False)
