"""The `verbinder` command (CLI.md): the Typer app, its global options and `main()`."""

from __future__ import annotations

import atexit
import gc
import sys

import typer

from engine.audit.acting import act_as, cli_actor, process_source
from engine.cli.lazy import Lazy, LazyGroup
from engine.cli.output import paused_gc, silence, stderr, stdout
from engine.errors import InputError
from playbook.said import in_both

# The commands and command groups: name -> where it lives and its line in `verbinder --help`.
# A module is imported only when its command runs (engine.cli.lazy); a new group is one line.
COMMANDS = {
    "registry": Lazy("engine.cli.registry:registry_app",
                     "The social map: import, export, health."),
    "playbook": Lazy("engine.cli.playbook:playbook_app", "Check a playbook."),
    "incident": Lazy("engine.cli.incident:incident_app",
                     "Preview, declare and follow incidents."),
    "oncall": Lazy("engine.cli.oncall:oncall_app", "The on-call roster."),
    "user": Lazy("engine.cli.user:user_app", "Staff accounts and API tokens."),
    "audit": Lazy("engine.cli.audit:audit_app", "The audit log: verify its hash chain."),
    "contact": Lazy("engine.cli.peacetime:contact_app",
                    "Peace time: log contacts with communities."),
    "agreement": Lazy("engine.cli.peacetime:agreement_app",
                      "Peace time: agreements with communities."),
    "peacetime": Lazy("engine.cli.peacetime:peacetime_app",
                      "Peace time: who is due, the digest, the report."),
    "staff": Lazy("engine.cli.peacetime:staff_app",
                  "Staff: hand communities over to a new liaison."),
    "report": Lazy("engine.cli.report:report_command",
                   "Figures over all real incidents declared in a period (exercises left out)."),
    "purge": Lazy("engine.cli.privacy:purge_command",
                  "Erase names, numbers, addresses and free text past retention; keep the "
                  "figures."),
    "serve": Lazy("engine.cli.run:serve_command",
                  "Web side (webhooks, links, intake forms) and the worker in one process."),
    "worker": Lazy("engine.cli.run:worker_command",
                   "The worker alone (timers and outbox), for running several next to a "
                   "shared database."),
    "demo": Lazy("engine.cli.run:demo_command",
                 "A whole incident, end to end, on the embedded defaults (SQLite, console "
                 "channel)."),
}


class VerbinderGroup(LazyGroup):
    """The `verbinder` command: its commands imported when they run."""

    lazy = COMMANDS


app = typer.Typer(
    cls=VerbinderGroup,
    name="verbinder",
    help="Verbinder: crisis playbook and outreach to communities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help, as click prints it: Typer's Rich panels import Rich's Markdown (markdown-it)
    # and cost a tenth of a second on every `--help`.
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    db: str | None = typer.Option(None, "--db", help="Database URL (VERBINDER_DATABASE_URL)."),
    playbook: str | None = typer.Option(
        None, "--playbook", help="Playbook YAML file (VERBINDER_PLAYBOOK)."
    ),
) -> None:
    """Global options."""
    with paused_gc():  # imports and settings: nothing to collect yet
        from config.logging import configure_logging
        from config.settings import SettingsError, load_settings
        from engine.wiring import AppContext

        try:
            settings = load_settings()
        except SettingsError as exc:
            raise InputError([f"settings: {line}" for line in str(exc).splitlines()]) from exc
    if db is not None:
        try:
            settings.replace(database_url=db)
        except SettingsError as exc:
            raise InputError([line.replace("VERBINDER_DATABASE_URL", "--db", 1)
                              for line in str(exc).splitlines()]) from exc
    configure_logging(settings.log_level)
    # A person at a command is the actor of what it changes; a worker or server acts for the
    # contacts and staff whose requests it applies (the flows name them).
    runs = ctx.invoked_subcommand in ("worker", "serve", "demo")
    act_as(None if runs else cli_actor(), process_source())
    ctx.obj = AppContext(settings=settings, db_url=db, playbook_path=playbook)


def _usage_errors() -> tuple[type[Exception], ...]:
    """ClickException of the click that typer runs on (vendored in typer >= 0.20) and of click:
    a bad option, a missing argument. Checked by class, as the vendored one is not click's."""
    kinds: list[type[Exception]] = [k for k in typer.BadParameter.__mro__
                                    if k.__name__ == "ClickException"]
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer no longer needs click itself
        pass
    return tuple(kinds)


# What went wrong in a usage error, in Dutch, by the class name of click's exception.
_DUTCH_USAGE = {
    "NoSuchOption": "onbekende optie",
    "MissingParameter": "er ontbreekt een argument of optie",
    "BadParameter": "ongeldige waarde",
    "BadOptionUsage": "optie verkeerd gebruikt",
    "BadArgumentUsage": "argument verkeerd gebruikt",
    "UsageError": "verkeerd gebruik",
}


def _show_usage_error(exc: Exception) -> None:
    """A usage error (CLI.md: exit 2 with the usage line) in Dutch and English; any other
    click error as click shows it."""
    kind = next((k.__name__ for k in type(exc).__mro__ if k.__name__ in _DUTCH_USAGE), None)
    ctx = getattr(exc, "ctx", None)
    if kind is None:
        exc.show()  # type: ignore[attr-defined]
        return
    if ctx is not None:
        usage = ctx.get_usage().removeprefix("Usage:").strip()
        stderr.print(f"Gebruik / Usage: {usage}")
        stderr.print(f"Hulp / Help: {ctx.command_path} --help")
    message = exc.format_message()  # type: ignore[attr-defined]
    stderr.print(f"fout: {_DUTCH_USAGE[kind]} / error: {message}")


def main() -> None:
    """Run the command; refused input exits 2, any other failure exits 1."""
    global _FREEZE_AT_EXIT
    if _FREEZE_AT_EXIT:
        # The interpreter's last collection walks every object before the process ends; a
        # command that read 10,000 communities spent a tenth of a second there, freeing
        # nothing the exit does not free anyway. Frozen objects are left out of it.
        atexit.register(gc.freeze)
        _FREEZE_AT_EXIT = False
    try:
        _run()
    finally:  # in-process runs (tests): who the command acted for ends with it
        act_as(None, None)


_FREEZE_AT_EXIT = True


def _run() -> None:
    stdout.quiet = stderr.quiet = False  # in-process runs (tests) share the consoles
    try:
        code = app(standalone_mode=False)
    except InputError as exc:
        for problem in exc.problems:
            stderr.print(in_both(problem))
        sys.exit(2)
    except typer.Abort:
        stderr.print("afgebroken / aborted")
        sys.exit(1)
    except BrokenPipeError:  # the reader of our output went away: nothing more to say
        silence(stdout)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except _usage_errors() as exc:
        _show_usage_error(exc)
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]  # 2 for usage errors
    except Exception as exc:
        stderr.print(f"error: {type(exc).__name__}: {exc}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
