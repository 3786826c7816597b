"""`verbinder oncall ...` commands."""

import typer

oncall_app = typer.Typer(no_args_is_help=True)
