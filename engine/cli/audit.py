"""`verbinder audit verify`: check the hash chain of the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from engine.cli.output import emit_json, stderr, stdout, styled
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.wiring import AppContext

audit_app = typer.Typer(no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    anchor: str | None = typer.Option(
        None, "--anchor", help="SEQ:HASH of a head noted earlier: it must still be there."),
) -> None:
    """Walk the audit log's chain; name the first broken link (exit 1), else count it (0)."""
    from engine.audit.log import parse_anchor, verify  # the store: only when it runs

    noted = None
    if anchor is not None:
        try:
            noted = parse_anchor(anchor)
        except ValueError as exc:
            raise InputError(f"--anchor: {exc}") from None
    app: AppContext = ctx.obj
    report = verify(app.engine, anchor=noted)
    if as_json:
        emit_json(report.as_dict())
    elif report.broken is None:
        stdout.print(styled(("Auditlog heel / audit log whole", "green"),
                            f": {report.rows} regels/rows; kop/head {report.head_seq}:"
                            f"{report.head_hash}"))
        stderr.print("Noteer de kop elders; --anchor SEQ:HASH vindt later ook weggehaalde "
                     "laatste regels / note the head elsewhere; --anchor SEQ:HASH also finds "
                     "rows later cut off the end.")
    else:
        b = report.broken
        stdout.print(styled(("Auditlog gebroken / audit log broken", "bold red"),
                            f" at row {b.row_id}" + (f" (seq {b.seq})" if b.seq else "")
                            + f": {b.problem}: {b.detail}; {report.rows} rows chain before it"))
    if not report.ok:
        raise typer.Exit(1)
