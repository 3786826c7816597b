"""Hostile input against the audit log, notes, replies and consent: absurd sizes, control
characters, NUL, lone surrogates, markup; tampering through the application (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from engine.audit.log import DETAILS_CHARS, LIMITS, append, verify
from engine.clock import FakeClock
from engine.inbound.service import apply_inbound_text
from engine.privacy.purge import Retention, purge
from engine.privacy.texts import NOTE_CHARS, REPLY_CHARS
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import AuditEntry, Contact, Event, IncidentCommunity, Note, Reply
from engine.wiring import build_worker
from notifiers.base import InboundText
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY

HOSTILE = "\x00\x1b[2J\u202eevil\ud800 [/red] " + "x" * 1_000_000


@pytest.fixture
def run(any_engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    """`verbinder ARGS` in-process on this test's database (the engine registry imported)."""
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VERBINDER_CONSOLE_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("VERBINDER_SECRET_KEY", "test-secret")
    db = any_engine.url.render_as_string(hide_password=False)

    def _run(*args: str) -> tuple[int, str]:
        from engine.cli import main

        monkeypatch.setattr(sys, "argv", ["verbinder", "--db", db, "--playbook",
                                          str(ENGINE_PLAYBOOK), *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return _run


def _state(engine: Engine) -> dict[str, list]:
    with session_scope(engine) as session:
        return {t.__name__: [r.model_dump() for r in session.exec(select(t))]
                for t in (Note, Contact, IncidentCommunity, AuditEntry, Event)}


@pytest.mark.parametrize("note", [
    "x" * (NOTE_CHARS + 1), "a" * 5_000_000, "gebeld\x1b]8;;http://evil.example\x07klik",
    "gebeld \u202egnilb", "nul\x00byte", "cr\roverwrite",
])
def test_an_absurd_note_is_refused_and_changes_nothing(run, any_engine: Engine,
                                                       note: str) -> None:
    code, out = run("incident", "declare", "--type", "attack", "--field", "target=islam",
                    "--no-send", "--json")
    assert code == 0
    before = _state(any_engine)
    code, out = run("incident", "ack", "1", "--community", "moskee-a", "--note", note)
    assert code == 2 and "--note:" in out and len(out) < 500
    code, out = run("registry", "withdraw", "a1", "--note", note)
    assert code == 2 and "--note:" in out
    assert _state(any_engine) == before


def test_a_long_note_with_newlines_and_tabs_is_kept_whole(run, any_engine: Engine) -> None:
    run("incident", "declare", "--type", "attack", "--field", "target=islam", "--no-send")
    note = ("regel\tkolom\n" * 200)[:NOTE_CHARS]
    assert run("incident", "ack", "1", "--community", "moskee-a", "--note", note)[0] == 0
    with session_scope(any_engine) as session:
        assert [n.text for n in session.exec(select(Note))] == [note]


def test_hostile_contact_ids_are_refused_by_name_and_bounded(run, any_engine: Engine) -> None:
    code, out = run("registry", "withdraw", "p" * 100_000 + "\x1b[31m")
    assert code == 2 and "no such contact" in out and len(out) < 1000
    with session_scope(any_engine) as session:
        (refused,) = session.exec(select(AuditEntry).where(AuditEntry.result == "refused"))
    assert len(refused.object) <= LIMITS["object"]
    assert verify(any_engine).ok


def test_hostile_values_in_an_audit_row_are_stored_bounded_and_still_chain(
    any_engine: Engine
) -> None:
    deep: dict = {"level": 0}
    node = deep
    for n in range(50):
        node["next"] = {"level": n + 1}
        node = node["next"]
    with session_scope(any_engine) as session:
        append(session, actor=HOSTILE, action=HOSTILE, object=HOSTILE, source=HOSTILE,
               details={"text": HOSTILE, "deep": deep, "many": list(range(10_000)),
                        HOSTILE: 1, "set": {3, 1, 2}})
        append(session, action="test.after", details={"k" * 10: ["v" * 300] * 100})
    report = verify(any_engine)
    assert report.ok and report.rows == 2
    with session_scope(any_engine) as session:
        first, second = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
    for field, limit in LIMITS.items():
        value = getattr(first, field)
        assert len(value) <= limit and "\x00" not in value and "\x1b" not in value
    assert len(first.details) <= DETAILS_CHARS and len(second.details) <= DETAILS_CHARS
    assert json.loads(second.details)["truncated"] is True
    with pytest.raises(ValueError, match="audit result"), session_scope(any_engine) as session:
        append(session, action="x", result="fine")


def test_a_hostile_sms_reply_is_stored_bounded(any_engine: Engine, clock: FakeClock,
                                              tmp_path: Path) -> None:
    from tests.engine_support import make_ctx
    from tests.integration.test_consent import declare

    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    app = make_ctx(any_engine, clock, tmp_path)
    declare(app)

    build_worker(app, name="w").run_cycle()
    body = "Bel\x00 mij \ud83d" + "é" * 5000
    with session_scope(any_engine) as session:
        outcome = apply_inbound_text(session=session, text=InboundText("SMx", "+31611111103", body),
                                     now=clock.now())
    assert outcome == "reply"
    with session_scope(any_engine) as session:
        (reply,) = session.exec(select(Reply)).all()
    assert len(reply.text) == REPLY_CHARS and "\x00" not in reply.text


def test_the_application_cannot_rewrite_history_even_through_purge(
    any_engine: Engine, clock: FakeClock
) -> None:
    from engine.audit.events import record

    with session_scope(any_engine) as session:
        append(session, action="test.first")
        record(session, kind="test.event", at=clock.now())
    with pytest.raises(DBAPIError, match="only ever added"), any_engine.begin() as conn:
        conn.execute(sa.text("UPDATE auditentry SET result = 'refused'"))
    with pytest.raises(DBAPIError, match="only ever added"), any_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM event"))
    with session_scope(any_engine) as session:
        purge(session, now=clock.now(), retention=Retention(withdrawn_days=0))
    assert verify(any_engine).ok and verify(any_engine).rows == 2


def test_a_hostile_anchor_is_refused(run) -> None:
    code, out = run("audit", "verify", "--anchor", "1:" + "f" * 100_000)
    assert code == 2 and "--anchor" in out and len(out) < 500
