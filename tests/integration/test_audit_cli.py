"""What commands leave in the audit log, and `verbinder audit verify` as a person runs it."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.audit.log import cli_actor
from engine.store.models import AuditEntry
from tests.cli_support import run_cli
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY
from tests.tampering import bypass_append_only

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(any_engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    """`verbinder --db <this test's database> --playbook <engine playbook> ARGS` in-process."""
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_DATABASE_URL", "VERBINDER_PLAYBOOK", "TWILIO_ACCOUNT_SID",
                 "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VERBINDER_SECRET_KEY", "test-secret")
    monkeypatch.setenv("VERBINDER_CONSOLE_DIR", str(tmp_path / "outbox"))
    db = any_engine.url.render_as_string(hide_password=False)

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, "--playbook",
                                          str(ENGINE_PLAYBOOK), *args])

    return _run


def audit_rows(engine: Engine) -> list[sa.Row]:
    t = AuditEntry.__table__
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(t.c.id)))


def test_each_change_of_a_command_is_an_audit_row_naming_who_and_where(
    run: Run, any_engine: Engine, tmp_path: Path
) -> None:
    assert run("registry", "import", str(ENGINE_REGISTRY))[0] == 0
    roster = tmp_path / "oncall.csv"
    roster.write_text("staff,start,end\nst-oncall,2026-03-01 08:00,2026-03-08 08:00\n")
    assert run("oncall", "import", str(roster))[0] == 0
    code, out, _ = run("incident", "declare", "--type", "attack", "--field", "target=islam",
                       "--no-send", "--json")
    assert code == 0
    incident = json.loads(out)["incident"]["id"]
    assert run("incident", "ack", str(incident), "--community", "moskee-a",
               "--note", "gebeld")[0] == 0
    assert run("incident", "ack", str(incident), "--community", "moskee-a")[0] == 0  # no change
    assert run("incident", "close", str(incident))[0] == 0
    rows = audit_rows(any_engine)
    actions = [r.action for r in rows]
    assert actions == ["registry.import", "oncall.import", "incident.declare", "incident.ack",
                       "incident.close"]
    assert json.loads(rows[1].details) == {"added": 1, "removed": 0,
                                           "sources": ["csv:oncall.csv"]}
    assert {r.actor for r in rows} == {cli_actor()}
    assert all(r.source.startswith(socket.gethostname() + "/pid ") for r in rows)
    declare, ack, close = rows[-3:]
    assert declare.object == ack.object == close.object == f"incident:{incident}"
    assert json.loads(ack.details)["communities"] == ["moskee-a"]
    assert json.loads(ack.details)["as"] == "staff:cli"
    assert "gebeld" not in ack.details, "a note is personal data: only its id is audited"
    code, out, _ = run("audit", "verify")
    assert code == 0 and f"{len(rows)} regels/rows" in out


def test_a_refused_or_failed_command_is_recorded_in_a_transaction_of_its_own(
    run: Run, any_engine: Engine
) -> None:
    run("registry", "import", str(ENGINE_REGISTRY))
    code, _, err = run("incident", "close", "999")
    assert code == 2 and "no such incident" in err
    code, out, _ = run("incident", "declare", "--type", "attack", "--field", "target=islam",
                       "--no-send", "--json")
    incident = json.loads(out)["incident"]["id"]
    code, _, err = run("incident", "ack", str(incident), "--community", "nowhere")
    assert code == 2
    rows = audit_rows(any_engine)
    refused = [(r.action, r.object, r.result) for r in rows if r.result != "ok"]
    assert refused == [("incident.close", "incident:999", "refused"),
                       ("incident.ack", f"incident:{incident}", "refused")]
    assert "not part of incident" in json.loads(rows[-1].details)["problems"][0]
    assert [r.action for r in rows if r.result == "ok"] == ["registry.import",
                                                            "incident.declare"]
    assert run("audit", "verify")[0] == 0


def test_a_command_refused_before_it_opened_the_store_records_nothing(
    run: Run, tmp_path: Path, any_engine: Engine
) -> None:
    code, _, _ = run("incident", "declare", "--type", "no-such-type", "--no-send")
    assert code == 2
    assert audit_rows(any_engine) == []


def test_audit_verify_names_the_broken_row_and_exits_1(run: Run, any_engine: Engine) -> None:
    run("registry", "import", str(ENGINE_REGISTRY))
    for _ in range(3):
        run("incident", "declare", "--type", "attack", "--field", "target=islam", "--no-send")
    code, out, _ = run("audit", "verify", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["rows"] == 4 and doc["head"]["seq"] == 4
    head = f"{doc['head']['seq']}:{doc['head']['hash']}"
    second = audit_rows(any_engine)[1]
    with any_engine.begin() as conn:
        bypass_append_only(conn)
        conn.execute(sa.text("UPDATE auditentry SET object = 'incident:77' WHERE id = :id"),
                     {"id": second.id})
    code, out, _ = run("audit", "verify", "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and doc["rows"] == 1
    assert doc["broken"] == {"row": second.id, "seq": 2, "problem": "edited",
                             "detail": "its fields no longer match its hash"}
    code, out, _ = run("audit", "verify")
    assert code == 1 and f"broken at row {second.id} (seq 2): edited" in out
    assert run("audit", "verify", "--anchor", head)[0] == 1
    code, _, err = run("audit", "verify", "--anchor", "four:abc")
    assert code == 2 and "--anchor: not SEQ:HASH" in err
