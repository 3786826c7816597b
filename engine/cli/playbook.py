"""`verbinder playbook check`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli.output import emit_json, paused_gc, stderr, stdout
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.playbooks.service import PlaybookCheck
    from engine.wiring import AppContext

playbook_app = typer.Typer(no_args_is_help=True)


@playbook_app.command("check")
def check(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="Playbook YAML (default: the configured one)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Validate a playbook: every problem with file and position; exit 2 when there are any.

    Warnings (exit 0): SMS texts that leave GSM-7 only for characters with a GSM-7 look-alike.
    """
    with paused_gc():  # imports the loader and loads the playbook once, then exits
        from engine.playbooks.service import check_playbook  # the loader: only when it runs

        app: AppContext = ctx.obj
        result = check_playbook(path=path if path is not None else app.playbook_file)
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        for warning in result.warnings:
            stderr.print(f"warning / waarschuwing: {warning}", markup=False, highlight=False)
        _print_ok(result)
    if result.problems:
        n = len(result.problems)
        raise InputError([str(p) for p in result.problems]
                         + [f"{n} problem{'s' if n != 1 else ''} in the playbook"])


def _print_ok(result: PlaybookCheck) -> None:
    loaded = result.playbook
    assert loaded is not None
    stdout.print(f"{result.path}: OK ({loaded.id} {loaded.version}, {loaded.digest})",
                 markup=False, highlight=False)
