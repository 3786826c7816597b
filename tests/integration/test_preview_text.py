"""`incident preview` over a larger registry: the text form summarises by role and lists the
first 50 communities (`--all`: every one); `--json` is the whole checklist, written by orjson."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bench.preview import fill
from engine.cli.checklist import ROWS
from engine.cli.incident import WARNINGS
from tests.cli_support import run_cli

PREVIEW = ["incident", "preview", "--type", "terrorist_attack", "--field", "motive=jihadist",
           "--at", "2026-03-01T09:00:00Z"]
ROW = re.compile(r"\((c\d{6})\)")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """300 generated communities (three contacts each)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('preview') / 'v.db'}"
    fill(url, 300)
    return url


def run(args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """`verbinder ARGS` in-process, on a wide terminal: (exit status, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("VERBINDER_PLAYBOOK", raising=False)
    return run_cli(monkeypatch, capsys, [*args])


def checklist(db: str, capsys, monkeypatch) -> dict:
    code, out, _ = run(["--db", db, *PREVIEW, "--json"], capsys, monkeypatch)
    assert code == 0
    return json.loads(out)


def test_text_summarises_by_role_then_lists_the_first_rows(db: str, tmp_path: Path, capsys,
                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = checklist(db, capsys, monkeypatch)
    communities = doc["communities"]
    assert len(communities) > ROWS
    code, out, _ = run(["--db", db, *PREVIEW], capsys, monkeypatch)
    assert code == 0
    summary = out[out.index("Per rol / by role"):out.index("Gemeenschappen / Communities")]
    roles = Counter(c["role"] for c in communities)
    contacts = Counter()
    for c in communities:
        contacts[c["role"]] += len(c["contacts"])
    for role, count in roles.items():
        line = next(ln for ln in summary.splitlines() if f"/ {role.replace('_', ' ')}" in ln)
        assert re.search(rf"\b{count}\b.*\b{contacts[role]}\b", line), line
    total = next(ln for ln in summary.splitlines() if "totaal / total" in ln)
    assert re.search(rf"\b{len(communities)}\b.*\b{sum(contacts.values())}\b", total), total
    rest = len(communities) - ROWS
    rows = out[out.index("Gemeenschappen / Communities"):]
    listed = ROW.findall(rows[:rows.index("en nog")])
    assert listed == [c["id"] for c in communities[:ROWS]]
    assert f"en nog {rest} / and {rest} more" in out
    warnings = doc["warnings"]
    assert len(warnings) > WARNINGS  # the generated registry has contacts without consent
    head = out[:out.index("Per rol / by role")]
    assert head.count("! ") == WARNINGS
    assert f"and {len(warnings) - WARNINGS} more" in head


def test_all_lists_every_community_and_warning(db: str, tmp_path: Path, capsys,
                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = checklist(db, capsys, monkeypatch)
    code, out, _ = run(["--db", db, *PREVIEW, "--all"], capsys, monkeypatch)
    assert code == 0
    listed = ROW.findall(out[out.index("Gemeenschappen / Communities"):])
    assert listed == [c["id"] for c in doc["communities"]]
    assert "more" not in out
    assert out[:out.index("Per rol / by role")].count("! ") == len(doc["warnings"])


def test_json_is_the_document_json_would_write(db: str, tmp_path: Path, capsys,
                                               monkeypatch) -> None:
    """orjson's output reads back to the same document, with the layout json.dumps gave."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["--db", db, *PREVIEW, "--json"], capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert out == json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
