"""The `verbinder` command (CLI.md): the Typer app, its global options and `main()`."""

from __future__ import annotations

import sys

import typer

from config.logging import configure_logging
from config.settings import SettingsError, load_settings
from engine.audit.log import act_as, cli_actor, process_source
from engine.cli.output import silence, stderr, stdout
from engine.errors import InputError
from engine.wiring import AppContext

app = typer.Typer(
    name="verbinder",
    help="Verbinder: crisis playbook and outreach to communities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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


def _register() -> None:
    from engine.cli.audit import audit_app
    from engine.cli.incident import incident_app
    from engine.cli.oncall import oncall_app
    from engine.cli.peacetime import agreement_app, contact_app, peacetime_app, staff_app
    from engine.cli.playbook import playbook_app
    from engine.cli.privacy import register_privacy_commands
    from engine.cli.registry import registry_app
    from engine.cli.report import register_report_command
    from engine.cli.run import register_run_commands
    from engine.cli.user import user_app

    app.add_typer(registry_app, name="registry", help="The social map: import, export, health.")
    app.add_typer(playbook_app, name="playbook", help="Check a playbook.")
    app.add_typer(incident_app, name="incident", help="Preview, declare and follow incidents.")
    app.add_typer(oncall_app, name="oncall", help="The on-call roster.")
    app.add_typer(user_app, name="user", help="Staff accounts and API tokens.")
    app.add_typer(audit_app, name="audit", help="The audit log: verify its hash chain.")
    app.add_typer(contact_app, name="contact", help="Peace time: log contacts with communities.")
    app.add_typer(agreement_app, name="agreement", help="Peace time: agreements with communities.")
    app.add_typer(peacetime_app, name="peacetime", help="Peace time: who is due, the report.")
    app.add_typer(staff_app, name="staff", help="Staff: hand communities over to a new liaison.")
    register_privacy_commands(app)
    register_run_commands(app)
    register_report_command(app)


_register()


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
    try:
        _run()
    finally:  # in-process runs (tests): who the command acted for ends with it
        act_as(None, None)


def _run() -> None:
    stdout.quiet = stderr.quiet = False  # in-process runs (tests) share the consoles
    try:
        code = app(standalone_mode=False)
    except InputError as exc:
        for problem in exc.problems:
            stderr.print(problem)
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
