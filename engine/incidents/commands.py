"""`verbinder incident ...` commands."""

import typer

incident_app = typer.Typer(no_args_is_help=True)
