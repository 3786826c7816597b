"""Peace time under hostile input: markup and control characters are printed as text, sizes
are bounded, and every refusal changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "tests" / "fixtures" / "peacetime" / "playbook.yaml"
REGISTRY = ROOT / "tests" / "fixtures" / "peacetime_registry"
MARKUP = "[/red] [link=http://evil.example]Klik[/link] :warning:"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_DATABASE_URL", "VERBINDER_PLAYBOOK", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VERBINDER_CONSOLE_DIR", str(tmp_path / "outbox"))
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, "--playbook", str(PLAYBOOK),
                                          *args])

    assert _run("registry", "import", str(REGISTRY))[0] == 0
    _run.db = db  # type: ignore[attr-defined]
    return _run


def _count(run, table: str) -> int:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(run.db)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


def test_markup_in_texts_is_printed_as_text(run) -> None:  # type: ignore[no-untyped-def]
    assert run("agreement", "add", "--community", "kerk-b", "--text", MARKUP)[0] == 0
    assert run("contact", "log", "--community", "kerk-b", "--kind", "visit", "--by", "st-one",
               "--at", "2026-01-02T10:00:00Z", "--place", MARKUP, "--note", MARKUP)[0] == 0
    for args in (("peacetime", "due"), ("peacetime", "digest"),
                 ("contact", "list", "--include-notes")):
        code, out, _ = run(*args)
        assert code == 0 and MARKUP in out, args


@pytest.mark.parametrize(("args", "expected"), [
    (("--note", "x" * 2001), "--note: at most 2000 characters"),
    (("--note", "a\u202eb"), "--note: holds a control character"),
    (("--place", "a\x1bb"), "--place: holds a control character"),
    (tuple(x for n in range(51) for x in ("--community", f"c{n}")), "at most 50 communities"),
])
def test_bounds_are_refused_and_nothing_stored(run, args, expected) -> None:  # type: ignore[no-untyped-def]
    base = ["contact", "log", "--kind", "visit", "--by", "st-one", "--at",
            "2026-01-02T10:00:00Z"]
    if "--community" not in args:
        base += ["--community", "kerk-b"]
    code, out, err = run(*base, *args)
    assert code == 2 and expected in err and out == ""
    assert _count(run, "contactlog") == 0 and _count(run, "note") == 0


def test_agreement_text_bounds(run) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("agreement", "add", "--community", "kerk-b", "--text", "x" * 501)
    assert code == 2 and "501 characters long; at most 500" in err
    code, _, err = run("agreement", "add", "--community", "kerk-b", "--text", "a\x00b")
    assert code == 2 and "control character" in err
    assert _count(run, "agreement") == 0


def test_history_import_refuses_a_file_over_the_limit(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.peacetime.history as history

    monkeypatch.setattr(history, "MAX_BYTES", 100)
    path = tmp_path / "contactlog.csv"
    path.write_text("at,kind,by,communities\n" + "2026-01-02T10:00Z,visit,st-one,kerk-b\n" * 5,
                    encoding="utf-8")
    code, _, err = run("contact", "import", str(path), "--json")
    assert code == 2 and "larger than" in err
    assert _count(run, "contactlog") == 0
    path.write_text("at,kind,by,communities\n2026-01-02T10:00Z,visit,st-one,kerk-b\n",
                    encoding="utf-8")
    code, out, _ = run("contact", "import", str(path), "--json")
    assert code == 0 and json.loads(out) == {"contacts": 1, "agreements": 0}
