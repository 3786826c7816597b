"""`verbinder oncall ...`: import the roster, who is on call now, list shifts."""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli.auditing import audited
from engine.cli.output import emit_json, stderr, stdout
from engine.errors import InputError
from engine.oncall.times import local_label, localise_strict, parse_time

# The roster's service (and the store under it) is imported by the command that runs.
if TYPE_CHECKING:
    from engine.oncall.model import RosterReport
    from engine.oncall.service import OnCall
    from engine.wiring import AppContext

oncall_app = typer.Typer(no_args_is_help=True)

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _option_time(text: str | None, option: str) -> datetime | None:
    """An option's time: ISO 8601, local `YYYY-MM-DD HH:MM`, or a date (local midnight)."""
    if text is None:
        return None
    try:
        if _DATE_ONLY.match(text.strip()):
            return localise_strict(datetime.combine(datetime.fromisoformat(text).date(), time(0)))
        return parse_time(text)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None


@oncall_app.command("import")
@audited("oncall.import", lambda _: "roster")
def import_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Roster files: .csv or .ics."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report, change nothing."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    from_: str | None = typer.Option(
        None, "--from", help="Start of the window this import replaces (and expands .ics in)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="End of the window (default for .ics: 90 days after its start)."
    ),
) -> None:
    """Import on-call shifts; all or nothing, a re-import replaces the file's window."""
    from engine.oncall import service

    app: AppContext = ctx.obj
    start, end = _option_time(from_, "--from"), _option_time(until, "--until")
    missing = [f"{f}: file: not found / niet gevonden" for f in files if not f.is_file()]
    if missing:
        raise InputError(missing)
    reports = service.import_roster(engine=app.engine, paths=files, replace_from=start,
                                    replace_until=end, dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "files": [r.as_dict() for r in reports]})
        return
    for report in reports:
        _print_report(report)


def _print_report(report: RosterReport) -> None:
    verb = "would change / zou wijzigen" if report.dry_run else "imported / geïmporteerd"
    window = (
        f"{local_label(report.window_from)} – {local_label(report.window_until)}"
        if report.window_from and report.window_until else "-"
    )
    stdout.print(
        f"{report.file} ({report.source}) {verb}: {report.shifts} shifts/diensten, "
        f"+{report.added} -{report.removed} ={report.unchanged}; window/venster {window}",
        markup=False, highlight=False,
    )
    for warning in report.warnings:
        stderr.print(f"warning / waarschuwing: {warning}", markup=False, highlight=False)


@oncall_app.command("now")
def now_command(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help="ISO 8601 time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Who is on call now (or at --at); with nobody, the coordinators who get the step."""
    from engine.oncall import service

    app: AppContext = ctx.obj
    found = service.on_call(engine=app.engine, at=_option_time(at, "--at") or app.clock.now())
    if as_json:
        emit_json(found.as_dict())
        return
    _print_now(found)


def _print_now(found: OnCall) -> None:
    stdout.print(f"On call at / van dienst op {local_label(found.at)}:", markup=False,
                 highlight=False)
    for p in found.on_call:
        stdout.print(
            f"  {p.id}  {p.name}  {local_label(p.starts_at)} – {local_label(p.ends_at)}",
            markup=False, highlight=False,
        )
    if found.on_call:
        return
    names = ", ".join(f"{c.id} ({c.name})" for c in found.coordinators) or "none / geen"
    stdout.print(
        "  Nobody is on call; an oncall step goes to the coordinators / Niemand heeft dienst; "
        f"een oncall-stap gaat naar de coördinatoren: {names}",
        markup=False, highlight=False,
    )


@oncall_app.command("list")
def list_command(
    ctx: typer.Context,
    from_: str | None = typer.Option(None, "--from", help="From (default: now)."),
    until: str | None = typer.Option(None, "--until", help="Until (default: no end)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Shifts that overlap the period, in Europe/Amsterdam time."""
    from engine.oncall import service

    app: AppContext = ctx.obj
    start = _option_time(from_, "--from") or app.clock.now()
    end = _option_time(until, "--until")
    if end is not None and end <= start:
        raise InputError("--until: not after --from / ligt niet na --from")
    listed = service.list_shifts(engine=app.engine, start=start, until=end)
    if as_json:
        emit_json(listed.as_dict())
        return
    if not listed.shifts:
        stdout.print("No shifts / geen diensten", markup=False, highlight=False)
    for s in listed.shifts:
        flag = "" if s.active else "  (inactive / inactief)"
        stdout.print(
            f"{local_label(s.starts_at)} – {local_label(s.ends_at)}  {s.staff_id}  {s.name}  "
            f"[{s.source}]{flag}",
            markup=False, highlight=False,
        )
