"""`verbinder worker | serve | demo`: the commands that run the engine rather than ask it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.output import plain, stderr, stdout, styled

if TYPE_CHECKING:
    from engine.wiring import AppContext


def worker_command(ctx: typer.Context) -> None:
    """The worker alone (timers and outbox), for running several next to a shared database."""
    from engine.wiring import build_worker

    warn_public_url(ctx.obj)
    worker = build_worker(ctx.obj)
    worker.start()
    stderr.print(f"worker {worker.id} running; Ctrl-C stops it")
    _wait_for_signal()
    worker.stop()


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run the worker too."),
) -> None:
    """Web side (webhooks, links, intake forms) and the worker in one process."""
    import uvicorn

    from engine.web.app import create_app
    from engine.web.server import server_config, settle_heap
    from engine.wiring import build_worker

    app: AppContext = ctx.obj
    warn_public_url(app)
    running = build_worker(app, kind="serve") if worker else None
    if running is not None:
        running.start()
    try:
        config = server_config(create_app(app), host=host, port=port)
        settle_heap()
        uvicorn.Server(config).run()
    finally:
        if running is not None:
            running.stop()


def warn_public_url(app: AppContext) -> None:
    """Say at start when real SMS would carry links to a loopback address."""
    from engine.wiring import public_url_warning

    warning = public_url_warning(app.settings)
    if warning is not None:
        stderr.print(plain(warning, "bold yellow"))


def demo_command(
    ctx: typer.Context,
    folder: str = typer.Option("demo-output", "--folder",
                               help="Where the demo database and its console outbox go."),
) -> None:
    """A whole incident, end to end, on the embedded defaults (SQLite, console channel)."""
    from pathlib import Path

    from engine.demo import run_demo
    run_demo(ctx.obj, Path(folder).resolve(), ConsoleDemoOutput(stdout))


class ConsoleDemoOutput:
    """The demo's output on a Rich console: titles as rules, tables without borders, every
    piece printed as text."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def title(self, text: str) -> None:
        """A section title, as a rule."""
        self.console.rule(plain(text, "bold"))

    def line(self, *pieces: str | tuple[str, str]) -> None:
        """One line of text pieces, styled where a piece names a style."""
        self.console.print(styled(*pieces))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A small table without borders."""
        table = Table(show_header=True, box=None, pad_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(plain(cell) for cell in row))
        self.console.print(table)


def _wait_for_signal() -> None:
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
