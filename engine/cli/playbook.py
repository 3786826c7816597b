"""`verbinder playbook check`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli.output import emit_json, stderr, stdout
from engine.errors import InputError
from engine.playbooks.service import configured_playbook_path
from playbook.errors import PlaybookError, Problem
from playbook.loader import load_playbook
from playbook.probe import probe_playbook
from playbook.sms import lookalike_warnings

if TYPE_CHECKING:
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
    app_ctx: AppContext | None = ctx.obj
    target = path if path is not None else (
        configured_playbook_path(app_ctx) if app_ctx else None)
    problems: list[Problem] = []
    loaded = None
    try:
        loaded = load_playbook(target) if target is not None else None
    except PlaybookError as exc:
        problems = exc.problems
    if loaded is not None:
        problems = probe_playbook(loaded, str(target))
        if problems:
            loaded = None
    warnings = lookalike_warnings(loaded) if loaded is not None else []
    if as_json:
        emit_json({**_document(str(target), loaded, problems),
                   "warnings": [w.to_json() for w in warnings]})
    elif not problems:
        for warning in warnings:
            stderr.print(f"warning / waarschuwing: {warning}", markup=False, highlight=False)
        _print_ok(str(target), loaded)
    if problems:
        n = len(problems)
        raise InputError([str(p) for p in problems]
                         + [f"{n} problem{'s' if n != 1 else ''} in the playbook"])


def _document(path: str, loaded: object, problems: list[Problem]) -> dict[str, object]:
    doc: dict[str, object] = {"path": path, "ok": not problems,
                              "problems": [p.to_json() for p in problems]}
    if loaded is not None:
        doc.update({"id": loaded.id, "version": loaded.version,  # type: ignore[attr-defined]
                    "digest": loaded.digest,  # type: ignore[attr-defined]
                    "files": sorted(loaded.files)})  # type: ignore[attr-defined]
    return doc


def _print_ok(path: str, loaded: object) -> None:
    stdout.print(f"{path}: OK ({loaded.id} {loaded.version}, "  # type: ignore[attr-defined]
                 f"{loaded.digest})", markup=False, highlight=False)  # type: ignore[attr-defined]
