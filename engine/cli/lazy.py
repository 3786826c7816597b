"""Commands imported when they run: `verbinder --help` lists every command without loading one.

A command module imports its services, and they import the store (SQLAlchemy, SQLModel), the
channels (twilio), the web or the reports: over a second of imports that `--help`, `playbook
check` or `incident types` never use. The app names each command or group by `module:attribute`
with its one-line help (`Lazy`); `LazyGroup` lists them from that table and imports a module
only when its command is resolved to run (or to print its own help).

`LazyGroup` also parses the whole command line, down to the command that runs, before the
app's own callback (settings, logging, the actor) runs: `--help` at any depth and usage errors
are answered without loading settings or touching a database.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import MarkupMode, TyperCommand, TyperGroup
from typer.models import TyperInfo

if TYPE_CHECKING:
    from typer import _click


@dataclass(frozen=True)
class Lazy:
    """A command (`module:function`) or command group (`module:typer_app`) of the app, with
    the one line of help that the app's `--help` shows for it."""

    target: str
    help: str

    def load(self, name: str, markup: MarkupMode) -> _click.Command:
        """Import the module and build the command (a group for a Typer app), with the help
        formatting of the app (`markup`)."""
        module_name, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        if isinstance(found, typer.Typer):
            group = typer.main.get_group_from_info(
                TyperInfo(found), pretty_exceptions_short=found.pretty_exceptions_short,
                rich_markup_mode=markup, suggest_commands=found.suggest_commands)
            group.name = name
            group.help = group.help or self.help
            return group
        single = typer.Typer()
        single.command(name)(found)
        return typer.main.get_command_from_info(
            single.registered_commands[0], pretty_exceptions_short=True, rich_markup_mode=markup)


class _Listed(TyperCommand):
    """What the app's help shows for a command that is not loaded: its name and help."""

    def __init__(self, name: str, lazy: Lazy) -> None:
        super().__init__(name, help=lazy.help, short_help=lazy.help)  # listed whole
        self.lazy = lazy


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported on demand (subclass and set `lazy`)."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False
        for name, lazy in self.lazy.items():
            self.commands.setdefault(name, _Listed(name, lazy))

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """The command, imported now unless only the help listing asks for it."""
        command = self.commands.get(cmd_name)
        if isinstance(command, _Listed) and not self._listing:
            command = self.commands[cmd_name] = command.lazy.load(cmd_name,
                                                                  self.rich_markup_mode)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The help, listing commands from the table without importing them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: _click.Context) -> Any:
        """Parse the command line down to its command first, then run as usual."""
        _parse_to_command(self, ctx)
        return super().invoke(ctx)


def _parse_to_command(group: TyperGroup, ctx: _click.Context) -> None:
    """Resolve and parse each command of the line without running any callback: `--help`
    prints and exits, a usage error is raised, before the group's callback runs."""
    args = [*ctx._protected_args, *ctx.args]
    parent = ctx
    while args:
        name, command, rest = group.resolve_command(parent, args)
        if command is None or name is None:
            return
        sub = command.make_context(name, rest, parent=parent)
        if not isinstance(command, TyperGroup):
            return
        group, parent, args = command, sub, [*sub._protected_args, *sub.args]
