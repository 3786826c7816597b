"""Loading and validating playbooks: every problem with file, line and column."""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from playbook.errors import PlaybookError, Problem
from playbook.loader import load_playbook, load_playbook_files, parse_duration
from playbook.model import Duration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "playbooks"
DEFAULT = Path(__file__).resolve().parents[2] / "playbook" / "default" / "playbook.yaml"
MARKER = re.compile(r"#\s*ERROR:\s*(.+)$")


def expected_markers(path: Path) -> list[tuple[int, str]]:
    """(line, message part) for every `# ERROR: ...` comment (several split by ` ## `)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = MARKER.search(line)
        if match:
            for part in match.group(1).split("## ERROR:"):
                out.append((number, part.strip()))
    return out


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    return err.value.problems


@pytest.mark.parametrize("name", ["broken_structure.yaml", "broken_rules.yaml",
                                  "broken_tasks.yaml"])
def test_every_marked_problem_is_reported_with_file_and_line(name: str) -> None:
    path = FIXTURES / name
    problems = problems_of(path)
    markers = expected_markers(path)
    assert markers, "the fixture marks its errors"
    for line, text in markers:
        assert any(p.line == line and text in p.message and p.file == str(path)
                   for p in problems), f"line {line}: {text!r} not in {problems}"
    assert len(problems) == len(markers), "\n".join(str(p) for p in problems)
    for problem in problems:
        assert problem.column >= 1
        assert str(problem).startswith(f"{path}:{problem.line}:{problem.column}: ")


def test_problems_come_in_file_order() -> None:
    problems = problems_of(FIXTURES / "broken_tasks.yaml")
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_template_file_syntax_error_points_into_the_template_file() -> None:
    path = FIXTURES / "broken_template_file" / "playbook.yaml"
    problems = problems_of(path)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file.endswith("templates/nl/msg.sms.j2")
    assert problem.line >= 3 and "template syntax error" in problem.message


def test_yaml_syntax_error_has_a_position() -> None:
    path = FIXTURES / "syntax_error.yaml"
    (problem,) = problems_of(path)
    assert problem.file == str(path) and problem.line == 4
    assert "YAML syntax error" in problem.message


def test_missing_top_level_keys_and_unknown_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("playbook: {id: x, version: '1', default_locale: nl, "
                    "timezone: Europe/Amsterdam}\nrulez: []\n", encoding="utf-8")
    messages = [p.message for p in problems_of(path)]
    assert any("unknown key 'rulez'" in m and "rules" in m for m in messages)
    for key in ("incident_types", "rules", "tasks"):
        assert any(f"missing required top-level key '{key}'" in m for m in messages)


def test_missing_file() -> None:
    (problem,) = problems_of(FIXTURES / "does-not-exist.yaml")
    assert "not found" in problem.message


def test_the_default_playbook_checks_clean() -> None:
    pb = load_playbook(DEFAULT)
    assert pb.id == "voorbeeldstad" and pb.default_locale == "nl"
    assert pb.timezone == "Europe/Amsterdam"
    assert len(pb.incident_types) >= 6
    for tid in ("first_contact", "needs_intake", "not_reached_staff"):
        assert {"nl", "en"} <= set(pb.templates[tid].sms)
    for tid in ("first_contact", "needs_intake"):
        assert {"nl", "en", "ar", "tr"} <= set(pb.templates[tid].sms)
        assert {"nl", "en", "ar", "tr"} <= set(pb.templates[tid].body)
    assert {t.due for t in pb.tasks.values() if t.kind == "followup"} >= {
        Duration(days=1), Duration(days=7), Duration(days=30)}


def test_frozen_files_reload_to_the_same_playbook() -> None:
    pb = load_playbook(DEFAULT)
    assert pb.main == "playbook.yaml"
    assert any(path.startswith("templates/") for path in pb.files)
    again = load_playbook_files(dict(pb.files), pb.main)
    assert again.digest == pb.digest
    assert again.rules == pb.rules and again.tasks == pb.tasks
    assert again.templates["first_contact"].body["nl"].source == \
        pb.templates["first_contact"].body["nl"].source


def test_frozen_files_missing_a_template_file_is_an_error() -> None:
    pb = load_playbook(DEFAULT)
    files = {k: v for k, v in pb.files.items() if not k.endswith("first_contact.email.j2")}
    with pytest.raises(PlaybookError) as err:
        load_playbook_files(files, pb.main)
    assert any("not found" in p.message for p in err.value.problems)


def test_digest_covers_the_yaml_and_its_template_files(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT.parent, tmp_path / "pb")
    path = tmp_path / "pb" / "playbook.yaml"
    first = load_playbook(path).digest
    assert load_playbook(path).digest == first
    template = tmp_path / "pb" / "templates" / "nl" / "first_contact.email.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    second = load_playbook(path).digest
    assert second != first
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert load_playbook(path).digest not in (first, second)


def test_digest_of_a_single_file_playbook_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"playbook: {id: x, version: '1', default_locale: nl, "
                     b"timezone: Europe/Amsterdam}\nincident_types: {t: {label: T}}\n"
                     b"rules: [{id: r, tasks: []}]\ntasks: {}\n")
    pb = load_playbook(path)
    assert pb.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_x_keys_are_ignored_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "x-top: 1\nplaybook: {id: x, version: '1', default_locale: nl, "
        "timezone: Europe/Amsterdam, x-a: 1}\n"
        "incident_types: {t: {label: {nl: T, x-b: 2}, x-c: 3}, x-d: {}}\n"
        "rules: [{id: r, tasks: [a], x-e: 4}]\n"
        "tasks: {a: {title: {nl: A}, due: 1h, x-f: 5}, x-g: {}}\n", encoding="utf-8")
    pb = load_playbook(path)
    assert list(pb.incident_types) == ["t"] and list(pb.tasks) == ["a"]


def hours(n: float) -> Duration:
    return Duration(elapsed=timedelta(hours=n))


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", Duration(elapsed=timedelta(seconds=90))), ("30m", hours(0.5)), ("1h", hours(1)),
    ("36h", hours(36)), ("7d", Duration(days=7)), ("PT1H", hours(1)), ("P7D", Duration(days=7)),
    ("PT15M", hours(0.25)), ("P1DT2H", Duration(days=1, elapsed=timedelta(hours=2))),
    ("PT90S", Duration(elapsed=timedelta(seconds=90))), ("P1W", Duration(days=7)),
    ("P1W2D", Duration(days=9)), ("0m", Duration()), ("PT1.5S", Duration(
        elapsed=timedelta(seconds=1.5))), ("3660d", Duration(days=3660)),
])
def test_durations(text: str, expected: Duration) -> None:
    """Days (d, D, W) are kept apart from the elapsed rest: 36h is not 1 day and 12 hours."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "1 hour", "h1", "-1h", "P", "PT", "P1M", "1.5h",
                                  "P1Y", "1w", "3661d", "87841h", "P523W", "9" * 5000 + "d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)
