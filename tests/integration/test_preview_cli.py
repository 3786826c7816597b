"""`verbinder incident preview` and `verbinder playbook check` through the real entry point."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.errors import InputError
from engine.incidents.options import IncidentOptions, incident_input_from_options, parse_at
from engine.playbooks.service import default_playbook_path
from engine.wiring import AppContext
from playbook.loader import load_playbook
from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "playbooks"
_spec = importlib.util.spec_from_file_location("sample_registry",
                                               FIXTURES / "sample_registry.py")
sample = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(sample)  # type: ignore[union-attr]


def run(args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Run `verbinder ARGS` in-process: (exit status, stdout, stderr)."""
    return run_cli(monkeypatch, capsys, [*args])


@pytest.fixture
def db(sqlite_engine: Engine, sqlite_url: str, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> str:
    """A database holding the sample registry; the working folder has no .env."""
    with sqlite_engine.begin() as conn:
        sample.insert_sample(conn)
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_PLAYBOOK", "VERBINDER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return sqlite_url


def test_preview_json_is_one_document(db: str, capsys, monkeypatch) -> None:
    code, out, _ = run(["--db", db, "incident", "preview", "--type",
                        "attack_on_place_of_worship", "--field", "target_faith=islam",
                        "--field", "target_community=moskee-annour", "--field",
                        "casualties=false", "--area", "WK099903", "--at",
                        "2026-03-01T10:00:00+01:00", "--title", "Brand bij moskee", "--json"],
                       capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert doc["incident"]["declared_at"] == "2026-03-01T09:00:00Z"
    assert doc["incident"]["title"] == "Brand bij moskee"
    assert doc["incident"]["fields"] == {"target_faith": "islam",
                                         "target_community": "moskee-annour",
                                         "casualties": False}
    assert doc["incident"]["playbook"]["digest"] == load_playbook(
        default_playbook_path()).digest
    assert doc["communities"][0]["id"] == "moskee-annour"
    assert doc["communities"][0]["tasks"][0] == {
        "id": "first-contact", "title": "Neem persoonlijk contact op met de sleutelfiguren",
        "due": "2026-03-01T10:00:00Z", "kind": "outreach", "owner": "liaison"}


def test_preview_changes_nothing(db: str, sqlite_engine: Engine, capsys, monkeypatch) -> None:
    def counts() -> dict[str, int]:
        with sqlite_engine.connect() as conn:
            return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                    for t in ("incident", "message", "timer", "event")}
    before = counts()
    code, _, _ = run(["--db", db, "incident", "preview", "--type", "hate_crime", "--field",
                      "targeted_group=lgbti", "--json"], capsys, monkeypatch)
    assert code == 0 and counts() == before


def test_preview_readable_shows_sms_segments(db: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run(["--db", db, "incident", "preview", "--type", "polarising_event_abroad",
                        "--field", "event=earthquake", "--field", "origin=turkish",
                        "--at", "2026-03-01T09:00:00Z"], capsys, monkeypatch)
    assert code == 0
    assert "Stichting Ayasofya Moskee" in out and "affected" in out
    assert "nl: 2" in out  # the first-contact SMS with its intake link: two segments


@pytest.mark.parametrize(("args", "names"), [
    (["--type", "nope"], ["--type", "nope"]),
    (["--type", "hate_crime"], ["targeted_group", "required"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--field", "colour=red"],
     ["colour", "not defined"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--field", "casualties=maybe"],
     ["casualties", "true or false"]),
    (["--type", "terrorist_attack", "--field", "motive=aliens"], ["motive", "jihadist"]),
    (["--type", "hate_crime", "--field", "targeted_group"], ["NAME=VALUE"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--at", "2026-03-01T09:00"],
     ["--at", "offset"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--at", "gisteren"], ["--at"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--severity", "9"],
     ["--severity"]),
    (["--type", "hate_crime", "--field", "targeted_group=x", "--lat", "52.1"], ["--lon"]),
])
def test_preview_refuses_bad_input_with_exit_2(db: str, capsys, monkeypatch, args: list[str],
                                               names: list[str]) -> None:
    code, out, err = run(["--db", db, "incident", "preview", *args, "--json"], capsys,
                         monkeypatch)
    assert code == 2
    assert out == ""
    for name in names:
        assert name in err


def test_preview_with_a_broken_playbook_exits_2(db: str, capsys, monkeypatch) -> None:
    broken = FIXTURES / "broken_rules.yaml"
    code, out, err = run(["--db", db, "--playbook", str(broken), "incident", "preview",
                          "--type", "t", "--json"], capsys, monkeypatch)
    assert code == 2 and out == ""
    assert f"{broken}:9:" in err


def test_playbook_check_clean(db: str, capsys, monkeypatch) -> None:
    code, out, _ = run(["playbook", "check"], capsys, monkeypatch)
    assert code == 0 and "OK" in out
    code, out, _ = run(["playbook", "check", str(default_playbook_path()), "--json"], capsys,
                       monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] is True and doc["problems"] == [] and doc["digest"].startswith("sha256:")


def test_playbook_check_lists_every_problem(db: str, capsys, monkeypatch) -> None:
    broken = FIXTURES / "broken_tasks.yaml"
    code, out, err = run(["playbook", "check", str(broken)], capsys, monkeypatch)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith(str(broken))]
    assert len(lines) == len(load_problem_lines(broken))
    assert f"{broken}:9:3: task 'followup-no-template': a followup task needs a template" in lines
    code, out, err = run(["playbook", "check", str(broken), "--json"], capsys, monkeypatch)
    assert code == 2
    doc = json.loads(out)
    assert doc["ok"] is False and len(doc["problems"]) == len(lines)
    assert {"file", "line", "column", "message"} <= set(doc["problems"][0])


def load_problem_lines(path: Path) -> list[str]:
    from playbook.errors import PlaybookError

    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    return [str(p) for p in err.value.problems]


# --- the options, without the command line -------------------------------------------------


def test_options_default_time_comes_from_the_clock() -> None:
    clock = FakeClock(datetime(2026, 5, 4, 12, 30, tzinfo=UTC))
    pb = load_playbook(default_playbook_path())
    incident = incident_input_from_options(
        pb, IncidentOptions(type="hate_crime", fields=("targeted_group=islam",)), clock)
    assert incident.declared_at == clock.now()
    assert incident.severity == 3 and incident.title == "Haatmisdrijf tegen een persoon"
    assert parse_at("2026-03-01T10:00:00+01:00", clock) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_at("2026-03-01T09:00:00Z", clock) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    with pytest.raises(InputError):
        parse_at("2026-03-01 09:00", clock)


def test_load_configured_prefers_option_then_setting_then_default(tmp_path: Path) -> None:
    from config.settings import Settings

    ctx = AppContext(settings=Settings(), playbook_path=None)
    assert ctx.load_playbook().id == "voorbeeldstad"
    ctx = AppContext(settings=Settings(playbook=str(FIXTURES / "broken_rules.yaml")))
    with pytest.raises(InputError):
        ctx.load_playbook()
    ctx = AppContext(settings=Settings(playbook=str(FIXTURES / "broken_rules.yaml")),
                     playbook_path=str(default_playbook_path()))
    assert ctx.load_playbook().id == "voorbeeldstad"
