"""`verbinder report`: figures over all real incidents of a period (exercises left out)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli.output import stderr
from engine.clock import as_utc

if TYPE_CHECKING:
    from engine.wiring import AppContext


class ReportFormat(StrEnum):
    """Formats of `report`."""

    md = "md"
    html = "html"
    pdf = "pdf"


class Lang(StrEnum):
    """Languages of the report."""

    nl = "nl"
    en = "en"


def report_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (playbook's zone)."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (inclusive)."),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format", help="md, html or pdf."),
    output: Path | None = typer.Option(None, "--output", help="Write to this file."),
    lang: Lang = typer.Option(Lang.nl, "--lang", help="Language: nl or en."),
) -> None:
    """Figures over all real incidents declared in a period (exercises left out)."""
    from engine.reports.period import parse_day, period_bounds
    from engine.reports.service import write_period_report

    app: AppContext = ctx.obj
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    zone = app.load_playbook().timezone
    begin, finish = period_bounds(first, last, zone)
    write_period_report(app.engine, start=begin, end=finish, zone=zone, fmt=fmt.value,
                        output=output, lang=lang.value, now=as_utc(app.clock.now()))
    if output is not None:
        stderr.print(f"report {first.isoformat()}..{last.isoformat()} written to {output}")
