"""`verbinder user ...`: staff accounts of the dashboard and tokens of the JSON API.

No password is ever given on the command line (argv is visible to every process of the
machine): `user add` and `user reset-2fa` print a one-time link on which the person sets
their password and second factor themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from engine.cli.output import emit_json, plain, stderr, stdout
from engine.cli.times import local_time, people_zone

# The accounts' services (and the store under them) are imported by the command that runs.
if TYPE_CHECKING:
    from engine.wiring import AppContext

user_app = typer.Typer(no_args_is_help=True)
token_app = typer.Typer(no_args_is_help=True)
user_app.add_typer(token_app, name="token", help="Tokens for scripts on the JSON API.")

JSON_OPTION = typer.Option(False, "--json", help="One JSON document on stdout.")
ROLE_HELP = "coordinator|liaison|oncall|viewer"


def _say_link(app: AppContext, token: str, email: str, as_json: bool, **extra: object) -> None:
    from engine.accounts.service import ENROLMENT_VALID, enrolment_url

    url = enrolment_url(app.settings.public_url, token)
    hours = int(ENROLMENT_VALID.total_seconds() // 3600)
    if as_json:
        emit_json({"email": email, "enrolment_url": url, "valid_hours": hours, **extra})
        return
    stdout.print(url)
    stderr.print(f"Geef deze link alleen aan {email}; eenmalig, {hours} uur geldig. / "
                 f"Give this link to {email} only; it works once, for {hours} hours.")


@user_app.command("add")
def add_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The person's email address (their login)."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    staff: str | None = typer.Option(None, "--staff",
                                     help="Staff id of the registry this account stands for."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add an account; prints its one-time enrolment link (password and 2FA are set there)."""
    from engine.accounts.service import add_account
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        account, token = add_account(session, email=email, role=role, staff_id=staff,
                                     now=app.clock.now(), key=app.totp_key)
    _say_link(app, token, account.email, as_json, id=account.id, role=account.role)


@user_app.command("list")
def list_command(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every account: email, role, staff member, enrolled, active."""
    from engine.accounts.service import list_accounts
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    key = app.totp_key
    with session_scope(app.engine, read_only=True) as session:
        accounts = list_accounts(session, key=key)
    if as_json:
        emit_json({"accounts": accounts})
        return
    table = Table(title="Accounts")
    for column in ("id", "email", "rol/role", "staff", "ingeschreven/enrolled", "actief/active"):
        table.add_column(column)
    for a in accounts:
        table.add_row(plain(a["id"]), plain(a["email"]), plain(a["role"]), plain(a["staff"]),
                      _enrolled(a), "ja/yes" if a["active"] else "nee/no")
    stdout.print(table)


def _enrolled(account: dict[str, object]) -> str:
    if not account["enrolled"]:
        return "nee/no"
    if account["factor_readable"]:
        return "ja/yes"
    return "onleesbaar: reset-2fa / unreadable: reset-2fa"


@user_app.command("disable")
def disable_command(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Disable an account: its sessions end at once and it can no longer log in."""
    from engine.accounts.service import disable_account
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        account = disable_account(session, email=email, now=app.clock.now())
    stderr.print(f"uitgeschakeld / disabled: {account.email}")


@user_app.command("reset-2fa")
def reset_2fa_command(ctx: typer.Context, email: str = typer.Argument(...),
                      as_json: bool = JSON_OPTION) -> None:
    """Forget the second factor (a lost phone): sessions end; prints a one-time link where
    the person, with their password, sets up a new one."""
    from engine.accounts.service import reset_second_factor
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        account, token = reset_second_factor(session, email=email, now=app.clock.now(),
                                             key=app.totp_key)
    _say_link(app, token, account.email, as_json)


@token_app.command("create")
def token_create_command(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    name: str = typer.Option(..., "--name", help="Who or what uses the token."),
    staff: str | None = typer.Option(
        None, "--staff", help="The staff member the token stands for (a liaison's token sees "
        "that liaison's communities)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an API token scoped to a role; the token is printed once and never again."""
    from engine.accounts.apitokens import create_api_token
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        token_id, token = create_api_token(session, name=name, role=role, created_by="cli",
                                           now=app.clock.now(), staff_id=staff)
    if as_json:
        emit_json({"id": token_id, "token": token})
        return
    stdout.print(token)
    stderr.print(f"token {token_id}: bewaar het nu, het wordt niet nog eens getoond / "
                 "store it now, it is not shown again")


@token_app.command("list")
def token_list_command(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every API token (never the token itself)."""
    from engine.accounts.apitokens import list_api_tokens
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine, read_only=True) as session:
        tokens = list_api_tokens(session)
    if as_json:
        emit_json({"tokens": tokens})
        return
    zone = people_zone(app)
    table = Table(title="API tokens")
    for column in ("id", "naam/name", "rol/role", "gemaakt/created", "ingetrokken/revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(plain(t["id"]), plain(t["name"]), plain(t["role"]),
                      plain(local_time(t["created_at"], zone)),
                      plain(local_time(t["revoked_at"], zone) if t["revoked_at"] else ""))
    stdout.print(table)


@token_app.command("revoke")
def token_revoke_command(ctx: typer.Context,
                         token_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Revoke an API token: it stops working at once."""
    from engine.accounts.apitokens import revoke_api_token
    from engine.store.db import session_scope

    app: AppContext = ctx.obj
    with session_scope(app.engine) as session:
        revoke_api_token(session, token_id=token_id, now=app.clock.now(), actor="cli")
    stderr.print(f"token {token_id}: ingetrokken / revoked")
