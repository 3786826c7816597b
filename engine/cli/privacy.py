"""`verbinder purge`: erase what the retention settings say is past keeping."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from engine.cli.auditing import audited
from engine.cli.output import emit_json, plain, stdout

# The purge (and the store under it) is imported when the command runs.
if TYPE_CHECKING:
    from engine.privacy.purge import PurgeReport
    from engine.wiring import AppContext

_WORDS = {
    "contacts": "contactpersonen / contacts", "staff": "medewerkers / staff",
    "incidents": "incidenten / incidents", "messages": "berichten / messages",
    "intake_answers": "antwoorden (vrije tekst) / intake answers (free text)",
    "replies": "sms-antwoorden / replies", "notes": "notities / notes",
    "links": "links", "checklists": "checklists (namen / names)",
}


@audited("purge", lambda _: "store")
def purge_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what is due; erase nothing."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    contact: list[str] = typer.Option([], "--contact", help="Erase this withdrawn or inactive "
                                      "contact now (an erasure request); repeatable."),
) -> None:
    """Erase names, numbers, addresses and free text past retention; keep the figures."""
    from engine.privacy.purge import Retention, purge
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    retention = Retention.from_settings(app.settings)
    with session_scope(app.engine) as session:
        report = purge(session, now=app.clock.now(), retention=retention, dry_run=dry_run,
                       contacts=contact)
    if as_json:
        emit_json(report.as_dict())
    else:
        _print(report)


def _print(report: PurgeReport) -> None:
    r = report.retention
    stdout.print(plain(
        ("Proef, niets gewist / dry run, nothing erased. " if report.dry_run else "")
        + f"Bewaartermijnen / retention: ingetrokken/withdrawn {r.withdrawn_days} d, "
        f"inactief/inactive {r.inactive_days} d, gesloten incidenten/closed incidents "
        f"{r.closed_months} mnd/months"))
    table = Table(title=plain("Te wissen / to erase" if report.dry_run else
                              "Gewist / erased"))
    table.add_column("wat / what")
    table.add_column("aantal / count", justify="right")
    rows = {"contacts": len(report.contacts), "staff": len(report.staff),
            "incidents": len(report.incidents), **report.counts}
    for key, count in rows.items():
        table.add_row(plain(_WORDS.get(key, key)), plain(count))
    stdout.print(table)
    if report.incidents:
        stdout.print(plain("incidenten / incidents: " + ", ".join(
            str(i) for i in report.incidents[:50]) + (" ..." if len(report.incidents) > 50
                                                      else "")))
