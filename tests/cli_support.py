"""Running the `verbinder` command in-process, as the CLI tests do."""

from __future__ import annotations

import sys

import pytest

from engine.cli import main


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            argv: list[str]) -> tuple[int, str, str]:
    """Run `verbinder` with `argv` (after the program name): (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["verbinder", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
