"""`verbinder playbook ...` commands."""

import typer

playbook_app = typer.Typer(no_args_is_help=True)
