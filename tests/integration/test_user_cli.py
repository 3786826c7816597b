"""`verbinder user ...` as a person runs it: exit codes, the one-time links, no password on
the command line, tokens shown once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from engine.accounts.tokens import digest
from engine.cli.user import user_app
from engine.store.db import make_engine, session_scope
from engine.store.models import ApiToken, Enrolment, Event
from tests.cli_support import run_cli
from tests.dashboard_support import DASHBOARD_REGISTRY


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `verbinder --db <fresh sqlite> ARGS` through main(); return (code, out, err)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERBINDER_DATABASE_URL", raising=False)
    monkeypatch.setenv("VERBINDER_PUBLIC_URL", "https://verbinder.example.org")
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, *args])

    _run.db = db  # type: ignore[attr-defined]
    return _run


def test_user_add_prints_a_one_time_link(run) -> None:
    assert run("registry", "import", str(DASHBOARD_REGISTRY))[0] == 0
    code, out, err = run("user", "add", "Lia@Example.net", "--role", "liaison", "--staff",
                         "st-liaison")
    assert code == 0, err
    link = out.strip()
    assert link.startswith("https://verbinder.example.org/enrol/")
    assert "lia@example.net" in err and "72" in err
    engine = make_engine(run.db)
    with session_scope(engine) as s:
        enrolment = s.get(Enrolment, digest(link.rsplit("/", 1)[1]))
        assert enrolment is not None and enrolment.purpose == "enrol"
        events = list(s.exec(select(Event)))
        created = [e for e in events if e.kind == "account.created"]
        assert created[0].data == {"account": 1, "role": "liaison", "staff": "st-liaison"}
        assert "lia@" not in json.dumps([e.data for e in events])
    code, out, _ = run("user", "list", "--json")
    assert json.loads(out)["accounts"][0] | {"created_at": None} == {
        "id": 1, "email": "lia@example.net", "role": "liaison", "staff": "st-liaison",
        "active": True, "enrolled": False, "factor_readable": None, "created_at": None,
        "disabled_at": None}


def test_refused_input_exits_2_and_changes_nothing(run) -> None:
    for args, message in (
        (("user", "add", "x@example.org", "--role", "root"), "--role: unknown role"),
        (("user", "add", "nonsense", "--role", "viewer"), "EMAIL: not an email address"),
        (("user", "add", "x@example.org", "--role", "liaison"), "needs the staff member"),
        (("user", "disable", "nobody@example.org"), "no account for nobody@example.org"),
        (("user", "reset-2fa", "nobody@example.org"), "no account"),
        (("user", "token", "create", "--role", "viewer", "--name", " "), "--name: give"),
        (("user", "token", "revoke", "7"), "token 7: no such token"),
        (("user", "add", "x@example.org", "--role", "viewer", "--password", "s3cret"),
         "No such option"),
    ):
        code, _, err = run(*args)
        assert code == 2 and message in err, (args, err)
    assert json.loads(run("user", "list", "--json")[1]) == {"accounts": []}


def test_no_command_takes_a_password(run) -> None:
    import typer.main

    command = typer.main.get_command(user_app)
    names = []
    for sub in command.commands.values():  # type: ignore[attr-defined]
        for inner in getattr(sub, "commands", {None: sub}).values():
            names += [opt for p in inner.params for opt in getattr(p, "opts", [])]
    assert names and not [n for n in names if "pass" in n.lower() or "secret" in n.lower()]


def test_tokens_are_shown_once_and_revoked(run) -> None:
    code, out, _ = run("user", "token", "create", "--role", "viewer", "--name", "rapport",
                         "--json")
    assert code == 0
    made = json.loads(out)
    assert made["token"].startswith("vbt_")
    listed = json.loads(run("user", "token", "list", "--json")[1])["tokens"]
    assert made["token"] not in json.dumps(listed) and listed[0]["name"] == "rapport"
    assert run("user", "token", "revoke", str(made["id"]))[0] == 0
    with session_scope(make_engine(run.db)) as s:
        assert s.get(ApiToken, made["id"]).revoked_at is not None


def test_a_liaison_token_stands_for_a_staff_member_of_the_registry(run) -> None:
    assert run("registry", "import", str(DASHBOARD_REGISTRY))[0] == 0
    code, out, _ = run("user", "token", "create", "--role", "liaison", "--name", "script",
                       "--staff", "st-liaison", "--json")
    assert code == 0 and json.loads(out)["token"].startswith("vbt_")
    listed = json.loads(run("user", "token", "list", "--json")[1])["tokens"]
    assert (listed[0]["role"], listed[0]["staff"]) == ("liaison", "st-liaison")
    code, _, err = run("user", "token", "create", "--role", "liaison", "--name", "x",
                       "--staff", "st-nobody")
    assert code == 2 and "--staff: 'st-nobody' is not a staff member" in err
    assert len(json.loads(run("user", "token", "list", "--json")[1])["tokens"]) == 1


def test_disable_and_reset(run) -> None:
    code, first, _ = run("user", "add", "v@example.org", "--role", "viewer", "--json")
    # never enrolled (the link expired, say): reset-2fa gives a new enrolment link instead
    code, again, _ = run("user", "reset-2fa", "v@example.org", "--json")
    first_url, new_url = (json.loads(x)["enrolment_url"] for x in (first, again))
    assert code == 0 and "/enrol/" in new_url and new_url != first_url
    assert run("user", "disable", "v@example.org")[0] == 0
    accounts = json.loads(run("user", "list", "--json")[1])["accounts"]
    assert accounts[0]["active"] is False and accounts[0]["disabled_at"]
    code, _, err = run("user", "reset-2fa", "v@example.org")
    assert code == 2 and "disabled" in err
