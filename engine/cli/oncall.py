"""`verbinder oncall ...`: import the roster, who is on call now, list shifts."""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path

import typer

from engine.cli.auditing import audited
from engine.cli.output import emit_json, stderr, stdout
from engine.clock import iso_z
from engine.errors import InputError
from engine.oncall.importer import import_rosters
from engine.oncall.model import RosterReport, StaffOnCall
from engine.oncall.queries import coordinators, list_shifts, on_call_at, shifts_of
from engine.oncall.times import AMSTERDAM, localise_strict, parse_time
from engine.registry.service import StaffData
from engine.store.db import reading, session_scope

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


def _local(value: datetime) -> str:
    return value.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M %Z")


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
    app = ctx.obj  # the AppContext (engine, clock); not imported: wiring names channels
    start, end = _option_time(from_, "--from"), _option_time(until, "--until")
    missing = [f"{f}: file: not found / niet gevonden" for f in files if not f.is_file()]
    if missing:
        raise InputError(missing)
    with session_scope(app.engine) as session:
        reports = import_rosters(
            session, files, replace_from=start, replace_until=end, dry_run=dry_run
        )
    if as_json:
        emit_json({"dry_run": dry_run, "files": [r.as_dict() for r in reports]})
        return
    for report in reports:
        _print_report(report)


def _print_report(report: RosterReport) -> None:
    verb = "would change / zou wijzigen" if report.dry_run else "imported / geïmporteerd"
    window = (
        f"{_local(report.window_from)} – {_local(report.window_until)}"
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
    app = ctx.obj  # the AppContext (engine, clock); not imported: wiring names channels
    moment = _option_time(at, "--at") or app.clock.now()
    with reading(app.engine).connect() as conn:
        on_call = on_call_at(conn, moment)
        fallback = [] if on_call else coordinators(conn)
    if as_json:
        emit_json(_now_document(moment, on_call, fallback))
        return
    _print_now(moment, on_call, fallback)


def _now_document(
    moment: datetime, on_call: list[StaffOnCall], fallback: list[StaffData]
) -> dict[str, object]:
    return {
        "at": iso_z(moment),
        "at_local": _local(moment),
        "on_call": [
            {"id": p.id, "name": p.name, "starts_at": iso_z(p.starts_at),
             "ends_at": iso_z(p.ends_at), "starts_local": _local(p.starts_at),
             "ends_local": _local(p.ends_at)}
            for p in on_call
        ],
        "fallback": None if on_call else "coordinators",
        "coordinators": [{"id": c.id, "name": c.name} for c in fallback],
    }


def _print_now(
    moment: datetime, on_call: list[StaffOnCall], fallback: list[StaffData]
) -> None:
    stdout.print(f"On call at / van dienst op {_local(moment)}:", markup=False, highlight=False)
    for p in on_call:
        stdout.print(
            f"  {p.id}  {p.name}  {_local(p.starts_at)} – {_local(p.ends_at)}",
            markup=False, highlight=False,
        )
    if on_call:
        return
    names = ", ".join(f"{c.id} ({c.name})" for c in fallback) or "none / geen"
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
    app = ctx.obj  # the AppContext (engine, clock); not imported: wiring names channels
    start = _option_time(from_, "--from") or app.clock.now()
    end = _option_time(until, "--until")
    if end is not None and end <= start:
        raise InputError("--until: not after --from / ligt niet na --from")
    with reading(app.engine).connect() as conn:
        shifts = list_shifts(conn, start=start, until=end)
    if as_json:
        emit_json({"from": iso_z(start), "until": iso_z(end) if end else None,
                   "shifts": shifts_of(shifts)})
        return
    if not shifts:
        stdout.print("No shifts / geen diensten", markup=False, highlight=False)
    for s in shifts:
        flag = "" if s.active else "  (inactive / inactief)"
        stdout.print(
            f"{_local(s.starts_at)} – {_local(s.ends_at)}  {s.staff_id}  {s.name}  "
            f"[{s.source}]{flag}",
            markup=False, highlight=False,
        )
