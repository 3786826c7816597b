"""The playbook's optional `peacetime:` section: read into the model, refused with located
errors like the rest of the playbook (docs/PEACETIME.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.peacetime.digest import digest_period
from playbook.errors import PlaybookError
from playbook.loader import load_playbook, load_playbook_files
from playbook.model import DigestSchedule, Duration

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "tests" / "fixtures" / "engine" / "playbook.yaml").read_text(encoding="utf-8")


def _load(section: str):
    return load_playbook_files({"playbook.yaml": BASE + section}, "playbook.yaml")


def _problems(section: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        _load(section)
    return [str(p) for p in info.value.problems]


def _line_of(text: str) -> int:
    return (BASE + text).splitlines().index(text.splitlines()[-1]) + 1


def test_without_section_there_is_none() -> None:
    assert _load("").peacetime is None


def test_section_is_read() -> None:
    book = _load("""
peacetime:
  due_within: 7d
  cadence:
    - kind: faith
      every: 30d
      roles: [Jongeren, vrouwen]
    - tag: residents
      every: P13W
  digest: {every: daily, hour: 6}
""")
    pt = book.peacetime
    assert pt is not None
    assert pt.due_within == Duration(days=7)
    assert [(c.kind, c.tag, c.every.days, c.roles) for c in pt.cadences] == [
        ("faith", None, 30, ("jongeren", "vrouwen")), (None, "residents", 91, ())]
    assert pt.digest == DigestSchedule(every="daily", weekday=0, hour=6)
    assert pt.cadence_for("faith", ["residents"]).kind == "faith"  # first match wins
    assert pt.cadence_for("sports", ["residents"]).tag == "residents"
    assert pt.cadence_for("sports", []) is None


def test_default_playbook_has_a_section() -> None:
    book = load_playbook(ROOT / "playbook" / "default" / "playbook.yaml")
    assert book.peacetime is not None
    assert book.peacetime.digest == DigestSchedule("weekly", 0, 8)
    assert book.peacetime.cadence_for("faith", []).every == Duration(days=30)


@pytest.mark.parametrize(("section", "expected"), [
    ("peacetime:\n  cadense: []\n", "peacetime: unknown key 'cadense' (did you mean 'cadence'?)"),
    ("peacetime:\n  cadence:\n    - kind: faith\n      every: soon\n",
     "peacetime.cadence[0].every: bad duration 'soon'"),
    ("peacetime:\n  cadence:\n    - kind: faith\n      every: 2h\n",
     "peacetime.cadence[0].every: at least one day (1d)"),
    ("peacetime:\n  cadence:\n    - kind: faith\n      tag: x\n      every: 30d\n",
     "peacetime.cadence[0]: needs exactly one of 'kind' or 'tag'"),
    ("peacetime:\n  cadence:\n    - kind: faith\n", "peacetime.cadence[0].every: required"),
    ("peacetime:\n  cadence: {kind: faith}\n", "peacetime.cadence: must be a list"),
    ("peacetime:\n  digest:\n    weekday: mondy\n",
     "peacetime.digest.weekday: 'mondy' is no weekday (monday .. sunday) (did you mean "
     "'monday'?)"),
    ("peacetime:\n  digest:\n    hour: 24\n", "peacetime.digest.hour: 24 is out of range 0..23"),
    ("peacetime:\n  digest:\n    every: monthly\n",
     "peacetime.digest.every: 'monthly' must be weekly or daily"),
    ("peacetime:\n  digest:\n    every: daily\n    weekday: friday\n",
     "peacetime.digest.weekday: only with every: weekly"),
])
def test_refused_with_file_line_and_column(section: str, expected: str) -> None:
    problems = _problems("\n" + section)
    assert len(problems) == 1, problems
    where, _, _message = problems[0].partition(": ")
    assert where.startswith("playbook.yaml:")
    line = int(where.split(":")[1])
    assert line > BASE.count("\n")  # located in the section, not at the top
    assert expected in problems[0]


def test_playbook_check_command_reports_it(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    from engine.cli import main

    path = tmp_path / "playbook.yaml"
    path.write_text(BASE + "\npeacetime:\n  digest:\n    hour: 25\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["verbinder", "--db", f"sqlite:///{tmp_path}/x.db",
                                      "playbook", "check", str(path)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr()
    line = BASE.count("\n") + 4
    assert f"playbook.yaml:{line}:11: peacetime.digest.hour: 25 is out of range" in (
        err.out + err.err)


AMS = "Europe/Amsterdam"


@pytest.mark.parametrize(("utc", "period"), [
    (datetime(2027, 3, 22, 6, 59, tzinfo=UTC), None),  # Monday 07:59 CET
    (datetime(2027, 3, 22, 7, 0, tzinfo=UTC), "2027-W12"),  # Monday 08:00 CET
    (datetime(2027, 3, 22, 22, 59, tzinfo=UTC), "2027-W12"),  # Monday 23:59 CET
    (datetime(2027, 3, 22, 23, 0, tzinfo=UTC), None),  # Tuesday 00:00
    (datetime(2027, 3, 29, 5, 59, tzinfo=UTC), None),  # Monday 07:59 CEST (after the change)
    (datetime(2027, 3, 29, 6, 0, tzinfo=UTC), "2027-W13"),  # Monday 08:00 CEST
])
def test_digest_period_at_the_local_hour(utc: datetime, period: str | None) -> None:
    assert digest_period(utc, DigestSchedule("weekly", 0, 8), AMS) == period


def test_daily_digest_period() -> None:
    schedule = DigestSchedule("daily", 0, 8)
    assert digest_period(datetime(2027, 3, 27, 7, 0, tzinfo=UTC), schedule, AMS) == "2027-03-27"
    assert digest_period(datetime(2027, 3, 28, 6, 0, tzinfo=UTC), schedule, AMS) == "2027-03-28"
    assert digest_period(datetime(2027, 3, 28, 5, 59, tzinfo=UTC), schedule, AMS) is None
