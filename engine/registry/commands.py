"""`verbinder registry ...` commands."""

import typer

registry_app = typer.Typer(no_args_is_help=True)
