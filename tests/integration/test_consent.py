"""Consent withdrawn (STOP or `registry withdraw`): recorded on the timeline and in the audit
log, honoured at once everywhere, kept across a re-import; given again only by a later consent
date or a START after a STOP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.escalation.cycle import fire_due
from engine.inbound.service import apply_inbound_text
from engine.incidents.flows import declare_incident_flow
from engine.outreach.dispatcher import claim, send_claimed
from engine.privacy.consent import withdraw
from engine.registry.health import check_health
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.store.models import AuditEntry, Contact, Event, Message, Note, OptOut
from engine.wiring import AppContext, build_worker
from notifiers.base import InboundText
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY, make_ctx

AHMED, AMAL, BORA = "+31611111101", "+31611111102", "+31611111103"


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    """The engine registry on SQLite or PostgreSQL, console channels."""
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    return make_ctx(any_engine, clock, tmp_path)


def declare(app: AppContext) -> tuple[int, dict]:
    incident = IncidentInput(type="attack", declared_at=app.clock.now(), title="Incident",
                             severity=3, fields={"target": "islam"})
    with session_scope(app.engine) as session:
        row, doc = declare_incident_flow(session, playbook=load_playbook(ENGINE_PLAYBOOK),
                                         incident=incident,
                                         snapshot=load_snapshot(session.connection()),
                                         now=app.clock.now())
    return row.id, doc


def rows(app: AppContext, table, *where) -> list:  # type: ignore[no-untyped-def]
    with session_scope(app.engine) as session:
        keys = list(table.__table__.primary_key.columns)
        return list(session.exec(select(table).where(*where).order_by(*keys)))


def withdraw_now(app: AppContext, contact: str, note: str | None = None) -> bool:
    with session_scope(app.engine) as session:
        return withdraw(session, contact_id=contact, by="staff:cli", via="staff",
                        now=app.clock.now(), note=note)


def sms(app: AppContext, sender: str, body: str, n: int) -> str:
    with session_scope(app.engine) as session:
        return apply_inbound_text(session=session, text=InboundText(f"SMin{n}", sender, body),
                                  now=app.clock.now())


def test_unsent_messages_are_cancelled_and_recorded(app: AppContext) -> None:
    incident, _ = declare(app)
    with session_scope(app.engine) as session:
        fire_due(session, now=app.clock.now(), links=app.links, worker="w")
    assert withdraw_now(app, "b1", note="belde: wil niet meer benaderd worden") is True
    b1 = rows(app, Message, Message.recipient_id == "b1")
    assert [(m.state, m.detail) for m in b1] == [("cancelled", "consent withdrawn")]
    others = rows(app, Message, Message.recipient_id != "b1")
    assert {m.state for m in others} == {"pending"}
    (registry_event, incident_event) = rows(app, Event, Event.kind == "consent.withdrawn")
    assert registry_event.incident_id is None and incident_event.incident_id == incident
    assert incident_event.data["messages_cancelled"] == 1
    (note,) = rows(app, Note)
    assert registry_event.data["note_id"] == note.id and note.subject == "contact:b1"
    assert "belde" not in json.dumps(registry_event.data), "the note's text is not an event"
    (audit,) = rows(app, AuditEntry, AuditEntry.action == "registry.withdraw")
    assert (audit.actor, audit.object, audit.result) == ("staff:cli", "contact:b1", "ok")
    assert withdraw_now(app, "b1") is False, "twice is once"
    assert len(rows(app, AuditEntry, AuditEntry.action == "registry.withdraw")) == 1


def test_later_steps_and_checklists_leave_a_withdrawn_contact_out(app: AppContext) -> None:
    declare(app)
    worker = build_worker(app, name="w")
    worker.run_cycle()  # the primary step: Ahmed and Bora
    withdraw_now(app, "a2")  # Amal, the backup of moskee-a
    app.clock.advance(timedelta(minutes=16))
    worker.run_cycle()
    assert rows(app, Message, Message.recipient_id == "a2") == []
    fired = rows(app, Event, Event.kind == "step.no_recipient",
                 Event.community_id == "moskee-a")
    assert len(fired) == 1, "the backup step of moskee-a found nobody to message"
    _, doc = declare(app)
    moskee_a = next(c for c in doc["communities"] if c["id"] == "moskee-a")
    assert [c["id"] for c in moskee_a["contacts"]] == ["a1"]


def test_a_message_claimed_before_the_withdrawal_is_not_sent_nor_sent_elsewhere(
    app: AppContext
) -> None:
    declare(app)
    with session_scope(app.engine) as session:
        fire_due(session, now=app.clock.now(), links=app.links, worker="w")
    claimed = claim(app.engine, worker="w", now=app.clock.now(), policy=app.dispatch_policy)
    (to_bora,) = [r for r in claimed if r.recipient_id == "b1"]
    withdraw_now(app, "b1")  # a claimed message is not cancelled: it is refused at sending
    send_claimed(app.engine, to_bora, worker="w", clock=app.clock, channels=app.channels,
                 policy=app.dispatch_policy, fallback=app.fallback)
    b1 = rows(app, Message, Message.recipient_id == "b1")
    assert [(m.channel, m.state) for m in b1] == [("sms", "failed_perm")], \
        "no email to the same person instead"


def test_stop_withdraws_and_start_lifts_only_what_stop_did(app: AppContext) -> None:
    assert sms(app, BORA, "STOP", 1) == "stop"
    (bora,) = rows(app, Contact, Contact.id == "b1")
    assert bora.withdrawn_at == app.clock.now() and bora.withdrawn_by == "sms"
    (audit,) = rows(app, AuditEntry, AuditEntry.action == "optout.stop")
    assert (audit.actor, audit.object) == ("contact:b1", "contact:b1")
    withdraw_now(app, "a2")
    sms(app, AMAL, "STOP", 2)  # a2 had withdrawn by staff: nothing more to withdraw
    sms(app, "+31699999999", "STOP", 3)  # a number we do not know
    stops = rows(app, AuditEntry, AuditEntry.action == "optout.stop")
    assert [(a.actor, a.object) for a in stops] == [("contact:b1", "contact:b1"),
                                                    ("sms", None), ("sms", None)]
    for n, sender in enumerate((BORA, AMAL), start=4):
        assert sms(app, sender, "START", n) == "start"
    withdrawn = {c.id: c.withdrawn_by for c in rows(app, Contact, Contact.withdrawn_at.is_not(
        None))}
    assert withdrawn == {"a2": "staff:cli"}, "START does not undo what staff recorded"
    assert [o.address for o in rows(app, OptOut)] == ["+31699999999"]
    renewed = rows(app, Event, Event.kind == "consent.renewed")
    assert [(e.data["contact"], e.actor) for e in renewed] == [("b1", "contact:b1")]


def test_stop_from_a_person_of_two_communities_withdraws_both(app: AppContext) -> None:
    sms(app, AHMED, "stop", 1)
    withdrawn = [c.id for c in rows(app, Contact, Contact.withdrawn_at.is_not(None))]
    assert withdrawn == ["a1", "b2"]


def _contacts_file(tmp_path: Path, consent_b1: str) -> Path:
    text = (ENGINE_REGISTRY / "contacts.csv").read_text()
    text = text.replace("b1,moskee-b,Bora Een,1,06 11 11 11 03,b1@example.org,sms,tr,2026-01-01",
                        f"b1,moskee-b,Bora Een,1,06 11 11 11 03,b1@example.org,sms,tr,"
                        f"{consent_b1}")
    folder = tmp_path / f"import-{consent_b1}"
    folder.mkdir(exist_ok=True)
    (folder / "contacts.csv").write_text(text)
    return folder / "contacts.csv"


def test_a_reimport_keeps_a_withdrawal_until_a_later_consent_date(
    app: AppContext, tmp_path: Path
) -> None:
    withdraw_now(app, "b1")  # on 1 March 2026
    report = import_registry(app.engine, [ENGINE_REGISTRY], clock=app.clock)
    assert report.changes == 0
    assert any("b1" in w and "withdrew their consent" in w for w in report.warnings)
    same_day = import_registry(app.engine, [_contacts_file(tmp_path, "2026-03-01")],
                               clock=app.clock)
    assert same_day.changes == 1 and any("withdrew" in w for w in same_day.warnings)
    assert rows(app, Contact, Contact.id == "b1")[0].withdrawn_at is not None
    later = import_registry(app.engine, [_contacts_file(tmp_path, "2026-03-02")],
                            clock=app.clock, dry_run=True)
    assert any("gave consent again" in w for w in later.warnings)
    assert rows(app, Contact, Contact.id == "b1")[0].withdrawn_at is not None, "a dry run"
    later = import_registry(app.engine, [_contacts_file(tmp_path, "2026-03-02")],
                            clock=app.clock)
    assert rows(app, Contact, Contact.id == "b1")[0].withdrawn_at is None
    (audit,) = rows(app, AuditEntry, AuditEntry.action == "registry.consent")
    assert audit.object == "contact:b1"
    assert [e.data["via"] for e in rows(app, Event, Event.kind == "consent.renewed")] == [
        "import"]


def test_health_lists_withdrawn_contacts_and_counts_them_as_not_eligible(
    app: AppContext
) -> None:
    withdraw_now(app, "a2")
    with app.engine.connect() as conn:
        report = check_health(conn, now=app.clock.now(), consent_stale_days=365)
    assert [(w["id"], w["community"], w["by"]) for w in report.withdrawn] == [
        ("a2", "moskee-a", "staff:cli")]
    assert {"id": "moskee-a", "name": "Moskee A", "contact": "a1"} in report.one_eligible
    assert report.as_dict()["contacts_consent_withdrawn"][0]["id"] == "a2"


def test_registry_withdraw_command(app: AppContext, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    db = app.engine.url.render_as_string(hide_password=False)

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["verbinder", "--db", db, "registry", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, capsys.readouterr().err

    code, err = run("withdraw", "b1", "--note", "per brief / by letter")
    assert code == 0 and "consent withdrawn" in err
    code, err = run("withdraw", "b1")
    assert code == 0 and "had withdrawn consent already" in err
    code, err = run("withdraw", "nobody")
    assert code == 2 and "no such contact" in err
    audits = rows(app, AuditEntry)
    assert [(a.action, a.object, a.result) for a in audits] == [
        ("registry.import", "registry", "ok"), ("registry.withdraw", "contact:b1", "ok"),
        ("registry.withdraw", "contact:nobody", "refused")]
    assert [n.text for n in rows(app, Note)] == ["per brief / by letter"]
    with app.engine.connect() as conn:
        consent = conn.execute(sa.select(Contact.__table__.c.consent)
                               .where(Contact.__table__.c.id == "b1")).scalar()
    assert consent == date(2026, 1, 1), "the recorded consent date stays, as history"


def test_an_access_request_gathers_everything_kept_about_the_person(
    app: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """Ahmed is contact a1 (moskee-a) and b2 (moskee-b): asked for a1, both rows are his."""
    from engine.cli import main

    incident, _ = declare(app)
    build_worker(app, name="w").run_cycle()
    sms(app, AHMED, "Bel mij terug", 1)
    withdraw_now(app, "b2", note="via de imam")
    out = tmp_path / "inzage.json"
    db = app.engine.url.render_as_string(hide_password=False)
    monkeypatch.setattr(sys, "argv", ["verbinder", "--db", db, "registry", "access", "a1",
                                      "--output", str(out)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0 and "persoonsgegevens" in capsys.readouterr().err
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(out.read_text())
    assert [c["id"] for c in doc["contacts"]] == ["a1", "b2"]
    assert [(m["recipient_id"], m["address"]) for m in doc["messages"]] == [("a1", AHMED)]
    assert [r["text"] for r in doc["replies"]] == ["Bel mij terug"]
    assert [n["text"] for n in doc["notes"]] == ["via de imam"]
    assert {e["kind"] for e in doc["timeline"]} == {"inbound.reply", "consent.withdrawn"}
    assert [(a["action"], a["object"]) for a in doc["audit"]] == [
        ("registry.withdraw", "contact:b2")]
    (asked,) = rows(app, AuditEntry, AuditEntry.action == "registry.access")
    assert asked.object == "contact:a1" and incident
