"""Issue 12 at the command line, on SQLite and PostgreSQL: typos refused with "did you mean",
warnings first, `incident types`, usage errors, local time, and the guard rails of declare
(confirmation on a terminal, the same incident twice, no worker running, `ack --contact`)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.cli import incident as incident_cli
from engine.cli import output
from engine.cli import run as run_cli
from engine.clock import FakeClock
from engine.wiring import AppContext
from tests.cli_support import run_cli as run_verbinder

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "sample_registry", ROOT / "tests" / "fixtures" / "playbooks" / "sample_registry.py")
sample = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(sample)  # type: ignore[union-attr]

VERBINDER = str(Path(sys.executable).parent / "verbinder")
WORSHIP = ["--type", "attack_on_place_of_worship", "--field", "target_faith=islam"]
ANNOUR = [*WORSHIP, "--field", "target_community=moskee-annour"]


def run(args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Run `verbinder ARGS` in-process: (exit status, stdout, stderr)."""
    return run_verbinder(monkeypatch, capsys, [*args])


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> tuple[str, Engine]:
    """(URL, engine) of a database holding the sample registry; no .env, no stdin terminal."""
    url = request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'pg'}_url")
    engine = request.getfixturevalue(f"{request.param if request.param == 'sqlite' else 'pg'}"
                                     "_engine")
    with engine.begin() as conn:
        sample.insert_sample(conn)
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_PLAYBOOK", "VERBINDER_DATABASE_URL", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "VERBINDER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(incident_cli, "stdin_is_terminal", lambda: False)
    monkeypatch.setattr(output.stdout, "_width", 250)  # tables unwrapped, as on a wide screen
    return url, engine


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


# --- 1. typos refused, warnings first ---------------------------------------------------------


def test_a_community_typo_is_refused_with_did_you_mean(store, capsys, monkeypatch) -> None:
    url, engine = store
    for verb in ("preview", "declare"):
        code, out, err = run(["--db", url, "incident", verb, *WORSHIP, "--field",
                              "target_community=moskee-anour", "--json"], capsys, monkeypatch)
        assert code == 2, verb
        assert out == ""
        assert "field 'target_community': 'moskee-anour' is not the id of an active " \
               "community (did you mean 'moskee-annour'" in err
        assert " / veld 'target_community': 'moskee-anour' is geen id van een actieve " \
               "gemeenschap (bedoelt u 'moskee-annour'" in err  # the same line, in Dutch
    assert count(engine, "incident") == 0 and count(engine, "timer") == 0


def test_an_inactive_community_is_refused(store, capsys, monkeypatch) -> None:
    url, engine = store
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE community SET active = false WHERE id = 'moskee-annour'"))
    code, _, err = run(["--db", url, "incident", "preview", *ANNOUR], capsys, monkeypatch)
    assert code == 2 and "'moskee-annour' is not the id of an active community" in err


def test_a_tag_typo_is_refused(store, capsys, monkeypatch) -> None:
    url, engine = store
    code, out, err = run(["--db", url, "incident", "declare", "--type", "hate_crime",
                          "--field", "targeted_group=moslim"], capsys, monkeypatch)
    assert code == 2 and out == ""
    assert "field 'targeted_group': no active community carries the tag 'moslim'" in err
    assert "islam" in err
    assert count(engine, "incident") == 0


def test_preview_text_shows_warnings_first(store, capsys, monkeypatch) -> None:
    url, _ = store
    code, out, _ = run(["--db", url, "incident", "preview", *WORSHIP, "--area", "WK999999",
                        "--at", "2026-03-29T01:10:00Z"], capsys, monkeypatch)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("waarschuwing(en) / warning(s):")
    assert "no community matched as affected: check --field target_faith, --field " \
           "target_community, --area" in lines[1]
    assert "--area 'WK999999'" in lines[2] and "no community lies in this area" in lines[2]
    # 3. local time with its offset, not UTC
    assert "2026-03-29 03:10 +02:00" in out and "01:10:00Z" not in out


def test_preview_json_keeps_utc_and_carries_the_warnings(store, capsys, monkeypatch) -> None:
    url, _ = store
    code, out, _ = run(["--db", url, "incident", "preview", *WORSHIP, "--area", "WK999999",
                        "--at", "2026-03-29T01:10:00Z", "--json"], capsys, monkeypatch)
    doc = json.loads(out)
    assert code == 0 and doc["incident"]["declared_at"] == "2026-03-29T01:10:00Z"
    assert [w["code"] for w in doc["warning_details"][:2]] == ["no_affected",
                                                               "area_without_communities"]


def test_warning_texts_are_printed_as_text(store, capsys, monkeypatch) -> None:
    url, _ = store
    code, out, _ = run(["--db", url, "incident", "preview", *ANNOUR, "--area",
                        "[red]x[/red]\x1b"], capsys, monkeypatch)
    assert code == 2  # a control character in --area is refused before anything else
    code, out, _ = run(["--db", url, "incident", "preview", *ANNOUR, "--area",
                        "[red]x[/red]"], capsys, monkeypatch)
    assert code == 0 and "--area '[red]x[/red]'" in out


# --- 2. incident types, usage errors ---------------------------------------------------------


def test_incident_types_json(store, capsys, monkeypatch) -> None:
    code, out, err = run(["incident", "types", "--json"], capsys, monkeypatch)
    assert code == 0 and err == ""
    doc = json.loads(out)
    types = {t["id"]: t for t in doc["incident_types"]}
    worship = types["attack_on_place_of_worship"]
    assert worship["label"] == "Aanval of vernieling bij een gebedshuis"
    assert worship["labels"]["en"] == "Attack on or vandalism at a place of worship"
    assert worship["default_severity"] == 4
    assert worship["fields"][0] == {"name": "target_faith", "type": "enum", "required": True,
                                    "values": ["islam", "judaism", "christian", "hinduism",
                                               "sikhism", "buddhism", "other"]}
    assert worship["fields"][1] == {"name": "target_community", "type": "community",
                                    "required": False, "values": []}
    assert {"name": "targeted_group", "type": "tag", "required": True, "values": []} in \
        types["hate_crime"]["fields"]


def test_incident_types_text(store, capsys, monkeypatch) -> None:
    code, out, _ = run(["incident", "types"], capsys, monkeypatch)
    assert code == 0
    assert "hate_crime  Haatmisdrijf tegen een persoon / Hate crime against a person  " \
           "(ernst/severity 3)" in out
    assert "--field targeted_group=...  tag, verplicht/required" in out


@pytest.mark.parametrize(("args", "usage", "error"), [
    (["incident", "preview", "--bogus"], "verbinder incident preview [OPTIONS]",
     "fout: onbekende optie / error: No such option: --bogus"),
    (["incident", "show"], "verbinder incident show [OPTIONS] {ID}",
     "fout: er ontbreekt een argument of optie / error: Missing argument 'ID'."),
    (["incident", "types", "--jsn"], "verbinder incident types [OPTIONS]",
     "No such option: --jsn"),
])
def test_usage_errors_exit_2_with_the_usage_line(args, usage, error, tmp_path: Path) -> None:
    done = subprocess.run([VERBINDER, *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "VERBINDER_DATABASE_URL":
                               f"sqlite:///{tmp_path}/v.db"}, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == f"Gebruik / Usage: {usage}"
    assert error in done.stderr
    assert not (tmp_path / "v.db").exists()  # nothing touched


# --- 3. local time in list and show ----------------------------------------------------------


def test_list_and_show_print_local_time(store, capsys, monkeypatch) -> None:
    url, _ = store
    code, _, _ = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send",
                      "--at", "2026-07-01T10:00:00Z"], capsys, monkeypatch)
    assert code == 0
    code, out, _ = run(["--db", url, "incident", "list"], capsys, monkeypatch)
    assert code == 0 and "2026-07-01 12:00 +02:00" in out and "10:00:00Z" not in out
    code, out, _ = run(["--db", url, "incident", "show", "1"], capsys, monkeypatch)
    assert code == 0 and "2026-07-01 12:00 +02:00" in out and "T10:00:00Z" not in out
    code, out, _ = run(["--db", url, "incident", "list", "--json"], capsys, monkeypatch)
    assert json.loads(out)["incidents"][0]["declared_at"] == "2026-07-01T10:00:00Z"


# --- 5. guard rails --------------------------------------------------------------------------


def test_the_same_incident_again_needs_yes(store, capsys, monkeypatch) -> None:
    url, engine = store
    code, _, _ = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
                     capsys, monkeypatch)
    assert code == 0
    code, out, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send", "--json"],
                         capsys, monkeypatch)
    assert code == 2 and out == ""
    assert "incident 1 (Aanval of vernieling bij een gebedshuis, attack_on_place_of_worship) " \
           "is open" in err
    assert "declaring it again needs --yes" in err
    assert count(engine, "incident") == 1
    # another target is another incident
    code, _, _ = run(["--db", url, "incident", "declare", *WORSHIP, "--field",
                      "target_community=moskee-taibah", "--no-send"], capsys, monkeypatch)
    assert code == 0 and count(engine, "incident") == 2
    # so is an exercise of the same, or the same elsewhere
    for other in (["--exercise"], ["--area", "BU09990302"]):
        code, _, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send", *other],
                           capsys, monkeypatch)
        assert code == 0, err
    assert count(engine, "incident") == 4
    code, out, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send", "--yes",
                          "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["incident"]["id"] == 5
    assert "warning: incident 1" in err
    assert count(engine, "incident") == 5


def test_a_closed_or_old_incident_is_no_duplicate(store, capsys, monkeypatch) -> None:
    url, engine = store
    assert run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
               capsys, monkeypatch)[0] == 0
    assert run(["--db", url, "incident", "close", "1"], capsys, monkeypatch)[0] == 0
    assert run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
               capsys, monkeypatch)[0] == 0
    day_ago = datetime.now(UTC) - timedelta(hours=25)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE incident SET declared_at = :t WHERE id = 2"), {"t": day_ago})
    assert run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
               capsys, monkeypatch)[0] == 0


def test_declare_warns_when_no_worker_runs(store, capsys, monkeypatch) -> None:
    url, engine = store
    code, _, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
                       capsys, monkeypatch)
    assert code == 0
    assert "no worker seen alive in the last 2 minutes" in err
    assert "`verbinder worker` or `verbinder serve`" in err
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO worker (id, kind, started_at, seen_at) "
                             "VALUES ('w1', 'worker', :t, :t)"), {"t": now})
    code, _, err = run(["--db", url, "incident", "declare", *WORSHIP, "--field",
                        "target_community=moskee-taibah", "--no-send"], capsys, monkeypatch)
    assert code == 0 and "no worker seen" not in err


def test_on_a_terminal_declare_asks(store, capsys, monkeypatch) -> None:
    url, engine = store
    monkeypatch.setattr(incident_cli, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
                         capsys, monkeypatch)
    assert code == 1 and "niet afgekondigd / not declared" in err
    assert "Moskee An-Nour" in out and "Declare and reach" in out
    assert count(engine, "incident") == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("ja\n"))
    code, out, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
                         capsys, monkeypatch)
    assert code == 0 and count(engine, "incident") == 1
    # --json never asks (an empty stdin would refuse)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, _ = run(["--db", url, "incident", "declare", *WORSHIP, "--field",
                        "target_community=moskee-taibah", "--no-send", "--json"],
                       capsys, monkeypatch)
    assert code == 0 and json.loads(out)["incident"]["id"] == 2


def test_on_a_real_terminal_declare_asks_and_no_declares_nothing(tmp_path: Path,
                                                                 sqlite_url: str,
                                                                 sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        sample.insert_sample(conn)
    main_fd, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([VERBINDER, "--db", sqlite_url, "incident", "declare", *ANNOUR,
                                 "--no-send"], stdin=terminal, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=tmp_path, text=True)
        os.write(main_fd, b"n\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(main_fd)
        os.close(terminal)
    assert proc.returncode == 1, err
    assert "Declare and reach" in out and "not declared" in err
    assert count(sqlite_engine, "incident") == 0


def test_ack_contact_must_belong_to_the_community(store, capsys, monkeypatch) -> None:
    url, engine = store
    assert run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
               capsys, monkeypatch)[0] == 0
    code, _, err = run(["--db", url, "incident", "ack", "1", "--community", "moskee-annour",
                        "--contact", "p999"], capsys, monkeypatch)
    assert code == 2 and "--contact p999: no such contact" in err
    code, _, err = run(["--db", url, "incident", "ack", "1", "--community", "moskee-annour",
                        "--contact", "p008"], capsys, monkeypatch)
    assert code == 2 and "--contact p008: not a contact of community moskee-annour" in err
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM incidentcommunity WHERE "
                                      "community_id = 'moskee-annour'")).scalar_one()
    assert status == "open"
    code, _, err = run(["--db", url, "incident", "ack", "1", "--community", "moskee-annour",
                        "--contact", "p004"], capsys, monkeypatch)
    assert code == 0 and "marked reached" in err


def test_worker_warns_of_a_loopback_public_url_with_twilio(store, capsys,
                                                           monkeypatch) -> None:
    url, _ = store
    monkeypatch.setattr(run_cli, "_wait_for_signal", lambda: None)
    code, _, err = run(["--db", url, "worker"], capsys, monkeypatch)
    assert code == 0 and "loopback" not in err
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("TWILIO_FROM", "+31612340000")
    code, _, err = run(["--db", url, "worker"], capsys, monkeypatch)
    assert code == 0
    assert "VERBINDER_PUBLIC_URL is http://127.0.0.1:8000, a loopback address" in err


def test_a_declaration_after_the_question_is_timed_at_the_answer(store, capsys,
                                                                   monkeypatch) -> None:
    url, engine = store
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    clock = FakeClock(start)
    monkeypatch.setattr(sys.modules["engine.wiring"], "AppContext",
                        lambda **kw: AppContext(**kw, clock=clock))

    class SlowAnswer(io.StringIO):
        def readline(self, *args: object) -> str:
            clock.advance(timedelta(minutes=7))  # the coordinator reads the checklist first
            return "y\n"

    monkeypatch.setattr(incident_cli, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(sys, "stdin", SlowAnswer())
    code, _, err = run(["--db", url, "incident", "declare", *ANNOUR, "--no-send"],
                       capsys, monkeypatch)
    assert code == 0, err
    with engine.connect() as conn:
        declared = conn.execute(sa.text("SELECT declared_at FROM incident")).scalar_one()
    if isinstance(declared, str):
        declared = datetime.fromisoformat(declared)
    declared = declared.replace(tzinfo=UTC) if declared.tzinfo is None else declared
    assert declared == start + timedelta(minutes=7)


def test_serve_warns_of_a_loopback_public_url_with_twilio(store, capsys, monkeypatch) -> None:
    import uvicorn

    url, _ = store
    started: list[bool] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: started.append(True))
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("TWILIO_FROM", "+31612340000")
    monkeypatch.setenv("VERBINDER_PUBLIC_URL", "http://localhost:8000")
    code, _, err = run(["--db", url, "serve", "--no-worker"], capsys, monkeypatch)
    assert code == 0 and started == [True]
    assert "VERBINDER_PUBLIC_URL is http://localhost:8000, a loopback address" in err
    monkeypatch.setenv("VERBINDER_PUBLIC_URL", "https://verbinder.example.org")
    code, _, err = run(["--db", url, "serve", "--no-worker"], capsys, monkeypatch)
    assert code == 0 and "loopback" not in err
