"""`verbinder` starts at once: `--help` and the commands that need no database load no store,
channel, web or report library (engine.cli.lazy). Checked by what a fresh process imported,
not by timing it (bench/cli.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.app import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
# What a command that opens no database must not load: the store, Alembic, the channels, the
# web, the scheduler, the reports. `--help` must not load settings or the playbook's engine.
STORE_AND_VENDORS = ("sqlalchemy", "sqlmodel", "alembic", "psycopg", "twilio", "fastapi",
                     "starlette", "uvicorn", "apscheduler", "weasyprint", "matplotlib",
                     "openpyxl", "requests", "engine.store.db", "engine.store.models")
HELP_ONLY = (*STORE_AND_VENDORS, "pydantic_settings", "jinja2", "yaml", "engine.wiring",
             "playbook.loader")

PROBE = """
import json, sys
sys.argv = ["verbinder", *json.loads(sys.argv[1])]
from engine.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def probe(args: list[str], tmp_path: Path) -> tuple[int, set[str], str]:
    """Run `verbinder ARGS` in a fresh process: its exit status, the modules it had imported
    at the end, and its stdout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VERBINDER_") or k == "VERBINDER_CACHE_DIR"}
    env["VERBINDER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    _, _, tail = done.stderr.rpartition("\nPROBE ")
    assert tail, done.stderr
    report = json.loads(tail)
    return report["code"], set(report["modules"]), done.stdout


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of `names` (a package counts with its submodules) were imported."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


def test_help_lists_every_command_and_loads_none(tmp_path: Path) -> None:
    code, modules, out = probe(["--help"], tmp_path)
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("    ")]
    assert listed == list(COMMANDS)
    assert loaded(modules, HELP_ONLY) == []
    assert not any(m.startswith("engine.cli.") and m not in (
        "engine.cli.app", "engine.cli.lazy", "engine.cli.output") for m in modules)
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("args", [
    *([name, "--help"] for name in COMMANDS),  # a group added to the table is checked too
    ["incident", "preview", "--help"],
    ["incident", "declare", "--help"],
    ["incident", "types", "--help"],
    ["registry", "import", "--help"],
    ["user", "token", "create", "--help"],
])
def test_help_of_a_command_loads_no_settings_store_or_vendor(args: list[str],
                                                            tmp_path: Path) -> None:
    code, modules, out = probe(args, tmp_path)
    assert code == 0
    assert out.startswith(f"Usage: verbinder {' '.join(args[:-1])}")
    assert loaded(modules, HELP_ONLY) == []
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(("args", "says"), [
    (["playbook", "check"], ": OK ("),
    (["incident", "types"], "--field target_community="),
    (["incident", "types", "--json"], '"incident_types"'),
])
def test_commands_without_a_database_load_no_store_or_vendor(args: list[str], says: str,
                                                             tmp_path: Path) -> None:
    code, modules, out = probe(args, tmp_path)
    assert code == 0 and says in out
    assert loaded(modules, STORE_AND_VENDORS) == []
    # settings are read with python-dotenv and pydantic alone (config.settings)
    assert loaded(modules, ("pydantic_settings",)) == []
    assert not (tmp_path / "never.db").exists()


def test_a_usage_error_is_answered_before_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VERBINDER_LOG_LEVEL=NOT-A-LEVEL\n")
    code, modules, _ = probe(["incident", "preview", "--bogus"], tmp_path)
    assert code == 2
    assert loaded(modules, HELP_ONLY) == []


def test_each_listed_help_is_the_command_s_own() -> None:
    """The line `--help` shows for a command, from the table, is the one its module gives."""
    for name, lazy in COMMANDS.items():
        command = lazy.load(name, None)
        assert command.name == name
        assert (command.help or "").split("\n\n")[0].replace("\n", " ") == lazy.help, name


def test_head_revision_read_from_the_files_is_alembic_s() -> None:
    """The schema check at start reads the migrations' text; Alembic agrees on the head."""
    from engine.store.db import _alembic_head, head_revision

    assert head_revision() == _alembic_head()
