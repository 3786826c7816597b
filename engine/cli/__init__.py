"""The command line: only parses, calls a service and prints.

`app` holds the Typer application and `main()`; one module per command group (`registry`,
`playbook`, `incident`, `oncall`, and `run` for worker, serve and demo); `output` is the only
place that prints (text, never markup). Nothing outside this package imports Typer or Rich.
"""

from __future__ import annotations

from engine.cli.app import app, main

__all__ = ["app", "main"]
