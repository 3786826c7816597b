"""`registry health` names the languages of contacts that the playbook's templates lack, with
counts (issue 12, point 6), on SQLite and PostgreSQL, as a service and on the command line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.cli import main
from engine.clock import FakeClock
from engine.playbooks.service import default_playbook_path
from engine.registry import service
from engine.registry.importer import import_registry
from playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"


def languages(engine: Engine, clock: FakeClock, playbook_path: Path) -> list[dict]:
    report = service.registry_health(engine=engine, now=clock.now(), consent_stale_days=365,
                                     playbook=load_playbook(playbook_path))
    return report.as_dict()["contact_languages_without_template"]


def test_languages_no_template_has_are_counted_over_eligible_contacts(
        any_engine: Engine, clock: FakeClock) -> None:
    import_registry(any_engine, [SAMPLE], clock=clock)
    found = {item["language"]: item for item in languages(any_engine, clock,
                                                           default_playbook_path())}
    # Tigrinya: five contacts, two without consent; no template of the default playbook has it
    assert found["ti"]["contacts"] == 3 and found["ti"]["in_no_template"] is True
    assert {lang: item["contacts"] for lang, item in found.items()} == {
        "ti": 3, "zh": 2, "pa": 1, "uk": 1}
    assert list(found) == ["ti", "zh", "pa", "uk"]  # most contacts first
    assert service.registry_health(engine=any_engine, now=clock.now(), consent_stale_days=365
                                   ).untranslated is None  # no playbook, not checked


def test_a_language_some_templates_lack_names_them(any_engine: Engine, clock: FakeClock,
                                                   tmp_path: Path) -> None:
    import_registry(any_engine, [SAMPLE], clock=clock)
    folder = tmp_path / "pb"
    shutil.copytree(default_playbook_path().parent, folder)
    path = folder / "playbook.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  aftercare_d30:")
    end = text.index("  # --- to staff")
    part = "".join(line for line in text[start:end].splitlines(keepends=True)
                   if not line.lstrip().startswith("tr:"))
    path.write_text(text[:start] + part + text[end:], encoding="utf-8")
    found = {i["language"]: i for i in languages(any_engine, clock, path)}
    assert found["tr"]["templates_missing"] == ["aftercare_d30"]
    assert found["tr"]["in_no_template"] is False
    assert found["tr"]["contacts"] == 2


def test_registry_health_on_the_command_line(any_engine: Engine, clock: FakeClock,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    import_registry(any_engine, [SAMPLE], clock=clock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERBINDER_PLAYBOOK", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    db = any_engine.url.render_as_string(hide_password=False)
    for args in (["registry", "health", "--json"], ["registry", "health"]):
        monkeypatch.setattr(sys, "argv", ["verbinder", "--db", db, *args])
        with pytest.raises(SystemExit) as done:
            main()
        assert done.value.code in (0, None)
        out = capsys.readouterr().out
        if "--json" in args:
            items = json.loads(out)["contact_languages_without_template"]
            assert (items[0]["language"], items[0]["contacts"]) == ("ti", 3)
        else:
            assert "Talen van contactpersonen zonder sjabloon" in out
            assert "alle sjablonen / every template" in out
