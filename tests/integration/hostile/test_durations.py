"""Absurd durations in a playbook are refused at load, located, with exit 2 (before, a huge one
crashed `playbook check` with an OverflowError and exit 1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.cli import main

PLAYBOOK = """\
playbook: {{id: t, version: "1", name: T, default_locale: nl, timezone: Europe/Amsterdam}}
incident_types: {{attack: {{label: {{nl: A}}}}}}
rules:
  - {{id: r, when: "true", select: "true", role: affected, tasks: [week]}}
tasks:
  week: {{title: {{nl: Nazorg}}, due: {due}, kind: followup, template: msg}}
templates:
  msg: {{sms: {{nl: "Hallo"}}}}
"""


@pytest.mark.parametrize(("due", "problem"), [
    ("99999999999d", "bad duration '99999999999d': longer than 3660 days"),
    ("P99999999999W", "longer than 3660 days"),
    ("999999999999999999999h", "longer than 3660 days"),
    ("PT99999999999999999999999S", "longer than 3660 days"),
    ("9" * 3000 + "d", "bad duration '" + "9" * 40 + "...'"),
])
def test_an_absurd_duration_is_refused_where_it_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    due: str, problem: str,
) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK.format(due=due), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["verbinder", "playbook", "check", str(path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert f"{path}:6:" in err and problem in err
    assert len(err) < 400
