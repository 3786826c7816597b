"""`verbinder oncall ...` through `engine.cli.main`: output and exit codes."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.cli import main
from engine.clock import SystemClock
from engine.store.db import session_scope
from engine.store.models import Shift, Staff

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "oncall"


def add_staff(engine: Engine) -> None:
    """Three on-call staff (one also coordinator), a liaison and a coordinator."""
    with session_scope(engine) as session:
        session.add_all([
            Staff(id="st-a", name="Anna A", email="a@example.org", roles=["oncall"]),
            Staff(id="st-b", name="Bram B", email="b@example.org", roles=["oncall"]),
            Staff(id="st-c", name="Cor C", email="c@example.org",
                  roles=["coordinator", "oncall"]),
            Staff(id="st-liaison", name="Lies L", email="l@example.org", roles=["liaison"]),
            Staff(id="st-coord", name="Coby K", phone="+31611110005", roles=["coordinator"]),
        ])


def stored(engine: Engine) -> list[str]:
    """The staff ids of every stored shift."""
    with session_scope(engine) as session:
        return list(session.exec(select(Shift.staff_id).order_by(Shift.starts_at)))


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A roster file with this text."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> int:
    """Run `verbinder --db URL oncall ARGS`; the exit status."""
    monkeypatch.setattr(sys, "argv", ["verbinder", "--db", url, "oncall", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def db(sqlite_engine: Engine, sqlite_url: str) -> str:
    """The URL of a SQLite database holding the test staff."""
    add_staff(sqlite_engine)
    return sqlite_url


def test_import_json_then_reimport_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str,
    sqlite_engine: Engine,
):
    assert run(monkeypatch, db, "import", str(FIXTURES / "rotation.ics"), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["dry_run"] is False
    assert document["files"][0]["added"] == 5
    assert document["files"][0]["source"] == "ics:rotation.ics"
    assert run(monkeypatch, db, "import", str(FIXTURES / "rotation.ics"), "--json") == 0
    again = json.loads(capsys.readouterr().out)["files"][0]
    assert (again["added"], again["removed"], again["unchanged"]) == (0, 0, 5)
    assert len(stored(sqlite_engine)) == 5


def test_dry_run_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str,
    sqlite_engine: Engine,
):
    assert run(monkeypatch, db, "import", str(FIXTURES / "dst.csv"), "--dry-run") == 0
    assert "+3" in capsys.readouterr().out
    assert stored(sqlite_engine) == []


def test_bad_file_exits_2_with_every_problem_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str,
    sqlite_engine: Engine,
):
    bad = FIXTURES / "bad.csv"
    assert run(monkeypatch, db, "import", str(FIXTURES / "dst.csv"), str(bad)) == 2
    err = capsys.readouterr().err
    for row in (3, 4, 5, 6, 7):
        assert f"{bad}:{row}: " in err
    assert stored(sqlite_engine) == []


@pytest.mark.parametrize("args", [
    ["import", "/nonexistent/roster.csv"],
    ["now", "--at", "tomorrow"],
    ["list", "--from", "2026-12-01", "--until", "2026-11-01"],
    ["import", str(FIXTURES / "dst.csv"), "--from", "2027-01-01", "--until", "2026-01-01"],
])
def test_refused_options_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str, args: list[str]
):
    assert run(monkeypatch, db, *args) == 2
    assert capsys.readouterr().err.strip()


def test_now_shows_amsterdam_times(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
):
    run(monkeypatch, db, "import", str(FIXTURES / "rotation.ics"))
    capsys.readouterr()
    assert run(monkeypatch, db, "now", "--at", "2026-03-29T05:00:00Z") == 0
    out = capsys.readouterr().out
    assert "st-a" in out and "st-b" in out
    assert "2026-03-28 20:00 +01:00 – 2026-03-29 08:00 +02:00" in out
    assert run(monkeypatch, db, "now", "--at", "2026-03-29T05:00:00Z", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in document["on_call"]] == ["st-b", "st-a"]
    assert document["on_call"][1]["ends_at"] == "2026-03-29T06:00:00Z"
    assert document["fallback"] is None


def test_now_defaults_to_the_clock_and_names_coordinators_when_nobody(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str
):
    run(monkeypatch, db, "import", str(FIXTURES / "rotation.ics"))
    monkeypatch.setattr(SystemClock, "now", lambda self: datetime(2026, 3, 25, 8, tzinfo=UTC))
    capsys.readouterr()
    assert run(monkeypatch, db, "now", "--json") == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)["on_call"]] == ["st-c"]
    monkeypatch.setattr(SystemClock, "now", lambda self: datetime(2026, 5, 1, tzinfo=UTC))
    assert run(monkeypatch, db, "now") == 0
    out = capsys.readouterr().out
    assert "Nobody is on call" in out and "st-c" in out and "st-coord" in out
    assert run(monkeypatch, db, "now", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["on_call"] == []
    assert document["fallback"] == "coordinators"
    assert [c["id"] for c in document["coordinators"]] == ["st-c", "st-coord"]


def test_list_with_period(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
):
    path = write(tmp_path, "r.csv", (
        "staff,start,end\nst-a,2026-11-23 08:00,2026-11-30 08:00\n"
        "st-b,2026-11-30 08:00,2026-12-07 08:00\n"
    ))
    run(monkeypatch, db, "import", str(path))
    capsys.readouterr()
    assert run(monkeypatch, db, "list", "--from", "2026-12-01", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["staff"] for s in document["shifts"]] == ["st-b"]
    assert document["shifts"][0]["starts_at"] == "2026-11-30T07:00:00Z"
    assert run(monkeypatch, db, "list", "--from", "2026-11-01", "--until", "2026-12-31") == 0
    out = capsys.readouterr().out
    assert "2026-11-23 08:00 +01:00 – 2026-11-30 08:00 +01:00  st-a  Anna A  [csv:r.csv]" in out
