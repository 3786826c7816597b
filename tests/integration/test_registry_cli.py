"""`verbinder registry import|export|health` as a person runs them: exit codes and output."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"
BROKEN = ROOT / "tests" / "fixtures" / "registry" / "broken"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `verbinder --db <fresh sqlite> ARGS` through main(); return (exit code, out, err)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERBINDER_DATABASE_URL", raising=False)
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, *args])

    return _run


def _registry(run) -> dict:
    code, out, _ = run("registry", "export", "--all", "--format", "json")
    assert code == 0
    return json.loads(out)


def test_import_json_then_again_zero_changes(run) -> None:
    """Exit 0; the JSON document counts per table; re-import reports 0 changes."""
    code, out, _ = run("registry", "import", str(SAMPLE), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["dry_run"] is False and doc["changes"] == 102
    assert doc["contacts"]["added"] == 64 and doc["staff"]["deactivated"] == 0
    code, out, _ = run("registry", "import", str(SAMPLE / "contacts.csv"), "--json")
    assert code == 0 and json.loads(out)["changes"] == 0
    assert json.loads(out)["communities"]["included"] is False
    code, out, _ = run("registry", "import", str(SAMPLE))
    assert code == 0 and "0 wijziging(en) / change(s)" in out


def test_broken_import_exits_2_names_every_row_and_changes_nothing(run) -> None:
    """stdout holds one JSON document of errors; stderr has FILE:ROW: COLUMN lines."""
    assert run("registry", "import", str(SAMPLE))[0] == 0
    before = _registry(run)
    code, out, err = run("registry", "import", str(BROKEN), "--json")
    assert code == 2
    errors = json.loads(out)["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [
        (4, "phone"), (5, "email"), (6, "community"), (8, "id"), (9, "name")]
    for row, column in ((4, "phone"), (5, "email"), (6, "community"), (8, "id"), (9, "name")):
        assert f"{BROKEN / 'contacts.csv'}:{row}: {column}: " in err
    assert "nothing was changed" in err
    assert _registry(run) == before


def test_unknown_file_and_dry_run(run, tmp_path: Path) -> None:
    """A file that is no table is refused (2); a dry run writes nothing (0)."""
    odd = tmp_path / "mensen.csv"
    odd.write_text("id\n", encoding="utf-8")
    code, _, err = run("registry", "import", str(odd))
    assert code == 2 and f"{odd}: " in err
    code, out, _ = run("registry", "import", str(SAMPLE), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["dry_run"] is True
    assert json.loads(out)["contacts"]["added"] == 64
    assert _registry(run)["contacts"] == []


def test_export_formats_and_refusals(run, tmp_path: Path) -> None:
    """Public JSON holds communities only; CSV files are owner-only; bad options exit 2."""
    run("registry", "import", str(SAMPLE))
    code, out, err = run("registry", "export", "--public")
    assert code == 0 and set(json.loads(out)) == {"communities"}
    assert "persoonsgegevens" not in err
    code, _, err = run("registry", "export", "--format", "csv", "--output", str(tmp_path / "x"))
    assert code == 0 and "personal data" in err
    for name in ("communities", "contacts", "staff"):
        assert stat.S_IMODE((tmp_path / "x" / f"{name}.csv").stat().st_mode) == 0o600
    code, _, _ = run("registry", "export", "--format", "html", "--output", str(tmp_path / "k.html"))
    assert code == 0 and "<table>" in (tmp_path / "k.html").read_text(encoding="utf-8")
    assert run("registry", "export", "--format", "xml")[0] == 2
    assert run("registry", "export", "--format", "csv")[0] == 2
    code, out, _ = run("registry", "export", "--public", "--format", "csv")
    assert code == 0 and out.startswith("id,name,kind,")


def test_health_json_and_text(run) -> None:
    """Exit 0 with one JSON document, or a readable report."""
    run("registry", "import", str(SAMPLE))
    code, out, _ = run("registry", "health", "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["communities_without_eligible_contact"]) == 4
    assert doc["counts"]["communities"]["active"] == 32
    code, out, _ = run("registry", "health")
    assert code == 0 and "chabad" in out and "single point of failure" in out


def test_installed_command_exits_2_on_refused_input(tmp_path: Path) -> None:
    """The real `verbinder` executable maps a refused import to exit status 2."""
    exe = Path(sys.executable).parent / "verbinder"
    result = subprocess.run(
        [str(exe), "--db", f"sqlite:///{tmp_path / 'x.db'}", "registry", "import", str(BROKEN)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert f"{BROKEN / 'contacts.csv'}:9: name: " in result.stderr
