"""`verbinder worker | serve | demo`: the commands that run the engine rather than ask it."""

from __future__ import annotations

import typer

from engine.cli.output import stderr, stdout


def register_run_commands(app: typer.Typer) -> None:
    """Add `worker`, `serve` and `demo` to the app, after the command groups."""
    app.command("worker")(worker_command)
    app.command("serve")(serve_command)
    app.command("demo")(demo_command)


def worker_command(ctx: typer.Context) -> None:
    """The worker alone (timers and outbox), for running several next to a shared database."""
    from engine.worker import Worker

    worker = Worker(ctx.obj)
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
    from engine.web.server import server_config
    from engine.worker import Worker

    app_ctx = ctx.obj
    running = Worker(app_ctx, kind="serve") if worker else None
    if running is not None:
        running.start()
    try:
        uvicorn.Server(server_config(create_app(app_ctx), host=host, port=port)).run()
    finally:
        if running is not None:
            running.stop()


def demo_command(
    ctx: typer.Context,
    folder: str = typer.Option("demo-output", "--folder",
                               help="Where the demo database and its console outbox go."),
) -> None:
    """A whole incident, end to end, on the embedded defaults (SQLite, console channel)."""
    from pathlib import Path

    from engine.demo import run_demo
    run_demo(ctx.obj, Path(folder).resolve(), stdout)


def _wait_for_signal() -> None:
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
