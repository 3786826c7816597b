"""Names and titles are printed as text; a stored declaration never exits non-zero.

A community named `Moskee [/red] A` or a title `Brand [/b] kerk` used to make `incident
declare` store the incident, start sending and then exit 1 with a Rich MarkupError (a retry
would declare twice), after which `incident show` and `preview` failed for good. Driven
through the real command: in-process via main() and, where real streams matter (a closed
pipe, a full disk, an ASCII terminal, a colour terminal), as a separate process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample" / "voorbeeldstad"

MARKUP = "Moskee [/red] A"
LINK = "[link=http://evil.example]Klik[/link]"
EMOJI_AND_STYLE = ":warning: [bold]Kerk[/bold]"
TITLE = "Brand [/b] kerk"
ESCAPES = "Moskee \x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example\x07Klik\x1b]8;;\x07 \x9b31m"
DECLARE = ["incident", "declare", "--type", "attack_on_place_of_worship",
           "--field", "target_faith=islam", "--field", "target_community=moskee-annour"]
PREVIEW = ["incident", "preview", "--type", "attack_on_place_of_worship",
           "--field", "target_faith=islam"]
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _hostile_sample(folder: Path) -> Path:
    """The sample registry with community names that are Rich markup."""
    target = folder / "kaart"
    shutil.copytree(SAMPLE, target)
    path = target / "communities.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace("Moskee An-Nour", MARKUP)
    text = text.replace("Stichting Ayasofya Moskee", LINK)
    text = text.replace("Taibah Moskee", f'"{EMOJI_AND_STYLE}"')
    path.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database URL; the environment holds no Verbinder setting but a console folder."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("VERBINDER_", "TWILIO_", "SMTP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VERBINDER_CONSOLE_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside a name
    return f"sqlite:///{tmp_path / 'v.db'}"


@pytest.fixture
def run(db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`verbinder --db DB ARGS` through main(): (exit status, stdout, stderr)."""

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, *args])

    return _run


@pytest.fixture
def hostile(run, tmp_path: Path):
    """The hostile registry imported."""
    code, _, err = run("registry", "import", str(_hostile_sample(tmp_path)))
    assert code == 0, err
    return run


@pytest.fixture
def sample(run):
    """The plain sample registry imported (for what does not depend on hostile names)."""
    code, _, err = run("registry", "import", str(SAMPLE))
    assert code == 0, err
    return run


def _incidents(run) -> list[dict]:
    code, out, err = run("incident", "list", "--json")
    assert code == 0, err
    return json.loads(out)["incidents"]


def test_markup_in_names_and_title_is_printed_as_text(hostile) -> None:
    run = hostile
    code, out, err = run(*DECLARE, "--title", TITLE)
    assert code == 0, err
    assert MARKUP in out and f"Incident 1: {TITLE}" in out
    assert len(_incidents(run)) == 1

    code, out, err = run("incident", "show", "1")
    assert code == 0, err
    assert TITLE in out and MARKUP in out

    code, out, err = run(*PREVIEW, "--title", TITLE)
    assert code == 0, err
    assert MARKUP in out and LINK in out and EMOJI_AND_STYLE in out and TITLE in out

    code, out, err = run("incident", "list")
    assert code == 0, err
    assert TITLE in out

    code, out, err = run("registry", "health")
    assert code == 0, err


def test_control_characters_from_the_database_never_reach_the_terminal(hostile, db) -> None:
    """A registry stored before import refused them: shown as visible escapes."""
    run = hostile
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE community SET name = :n WHERE id = 'moskee-annour'"),
                     {"n": ESCAPES})
    engine.dispose()
    for args in (PREVIEW, DECLARE, ["incident", "show", "1"]):
        code, out, err = run(*args)
        assert code == 0, err
        assert "\x1b" not in out + err and "\x07" not in out + err and "\x9b" not in out + err
        assert "Moskee \\x1b[2J\\x1b]0;pwned\\x07" in out

    code, out, _ = run(*PREVIEW, "--json")
    assert code == 0
    assert "\x9b" not in out and json.loads(out)  # still one valid JSON document


@pytest.mark.parametrize("title", ["Brand\x1b[2J kerk", "Brand\rkerk", "Brand\u202ekerk",
                                   "B" * 201])
def test_hostile_title_is_refused_and_nothing_is_stored(sample, title: str) -> None:
    code, out, err = sample(*DECLARE, "--title", title)
    assert code == 2, err
    assert "--title" in err and "\x1b" not in err and "\r" not in err
    assert out == ""
    assert _incidents(sample) == []


def test_a_title_of_the_longest_allowed_length_is_declared(sample) -> None:
    code, _, err = sample(*DECLARE, "--no-send", "--title", "B" * 200)
    assert code == 0, err


def test_sending_that_fails_after_the_commit_exits_0(sample, monkeypatch) -> None:
    from engine.worker import Worker

    def crash(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Worker, "run_cycle", crash)
    code, out, err = sample(*DECLARE)
    assert code == 0, err
    assert "incident 1 declared" in err and "Do not declare it again" in err
    assert "Moskee An-Nour" in out
    assert len(_incidents(sample)) == 1


def test_ctrl_c_while_sending_after_the_commit_exits_0(sample, monkeypatch) -> None:
    from engine.worker import Worker

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Worker, "run_cycle", interrupted)
    code, _, err = sample(*DECLARE, "--json")
    assert code == 0, err
    assert "KeyboardInterrupt" in err
    assert len(_incidents(sample)) == 1


@pytest.mark.parametrize("args", [["incident", "preview", "--bogus"],
                                  ["incident", "preview"],
                                  ["incident", "preview", "--type", "x", "--severity", "abc"]])
def test_usage_errors_exit_2_with_the_usage_line(run, args: list[str]) -> None:
    code, _, err = run(*args)
    assert code == 2, err
    assert "Usage: verbinder incident preview" in err and "Traceback" not in err


# --- as a separate process: real streams -----------------------------------------------------


def _process(db: str, tmp_path: Path, args: list[str], *, stdout=subprocess.PIPE,
             **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("VERBINDER_", "TWILIO_", "SMTP_", "FORCE_COLOR", "NO_COLOR",
                                    "TTY_", "COLUMNS", "PYTHONIOENCODING"))}
    environ.update({"VERBINDER_DATABASE_URL": db,
                    "VERBINDER_CONSOLE_DIR": str(tmp_path / "outbox"), "COLUMNS": "300", **env})
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=tmp_path,
                          env=environ, stdout=stdout, stderr=subprocess.PIPE, timeout=120)


def test_no_hidden_link_or_escape_on_a_colour_terminal(hostile, db, tmp_path: Path) -> None:
    done = _process(db, tmp_path, PREVIEW, FORCE_COLOR="1", TTY_COMPATIBLE="1")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "\x1b[" in out  # it did print in colour, so links would have been live
    assert "\x1b]8;" not in out
    plain = _SGR.sub("", out)
    assert LINK in plain and MARKUP in plain and EMOJI_AND_STYLE in plain


def test_stdout_on_a_full_disk_still_exits_0_once_declared(sample, db, tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        done = _process(db, tmp_path, DECLARE, stdout=full)
    assert done.returncode == 0, done.stderr
    assert b"incident 1 declared" in done.stderr
    assert len(_incidents(sample)) == 1


def test_stdout_closed_by_its_reader_still_exits_0_once_declared(sample, db,
                                                                 tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: EPIPE on first write
    try:
        done = _process(db, tmp_path, [*DECLARE, "--json"], stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert len(_incidents(sample)) == 1


def test_a_terminal_that_cannot_show_arabic_still_exits_0(run, db, tmp_path: Path) -> None:
    folder = tmp_path / "kaart"
    shutil.copytree(SAMPLE, folder)
    path = folder / "communities.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("Moskee An-Nour", "مسجد النور"),
                    "utf-8")
    assert run("registry", "import", str(folder))[0] == 0
    done = _process(db, tmp_path, DECLARE, PYTHONIOENCODING="ascii")
    assert done.returncode == 0, done.stderr
    assert len(_incidents(run)) == 1
