"""Privacy over time: `verbinder purge` erases names, numbers, addresses and free text past
retention, keeps the anonymous events and figures, all or nothing, once (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from config.settings import Settings, SettingsError, load_settings
from engine.audit.log import verify
from engine.clock import FakeClock
from engine.inbound.service import apply_inbound_text, record_intake
from engine.incidents.flows import acknowledge, close_incident, declare_incident_flow
from engine.incidents.views import show_incident
from engine.privacy import purge as purge_module
from engine.privacy.consent import withdraw
from engine.privacy.purge import PurgeReport, Retention, months_before, purge
from engine.registry.export import build_export
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.reports.service import export_incident
from engine.store.db import session_scope
from engine.store.models import (
    AuditEntry,
    Contact,
    Event,
    Incident,
    IntakeAnswer,
    IntakeToken,
    Message,
    Note,
    Reply,
    Staff,
)
from engine.wiring import AppContext, build_worker
from notifiers.base import InboundText
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK, ENGINE_REGISTRY, make_ctx

BORA = "+31611111103"
REPLY = "Kunt u mij bellen? Mijn buurman Jan Smit zag het ook."
REMARK = "Bel mijn zoon op 06 98 76 54 32, zoon@example.net"
NOTE = "Gesproken met Ahmed Een, alles goed"
# What the registry and the texts above hold about persons: none may be left after a purge.
PERSONAL = ("Ahmed Een", "Amal Twee", "Bora Een", "Dirk Een", "Cor Een", "+3161111110",
            "@example.org", "Jan Smit", "98 76 54 32", "zoon@example.net", "Gesproken met")
DEFAULT = Retention()


@pytest.fixture
def playbook_path(tmp_path: Path) -> Path:
    """The engine playbook with a free-text question on its intake form."""
    text = ENGINE_PLAYBOOK.read_text().replace("\ntemplates:\n", """
      - id: remarks
        type: text
        label: {nl: "Opmerkingen", en: "Remarks"}
templates:
""", 1)
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    return make_ctx(any_engine, clock, tmp_path)


def run_incident(app: AppContext, playbook_path: Path, *, close: bool = True) -> int:
    """Declare, send, a reply, an intake answer with free text, an ack with a note, close."""
    incident = IncidentInput(type="attack", declared_at=app.clock.now(), title="Incident",
                             severity=3, fields={"target": "islam"})
    with session_scope(app.engine) as session:
        row, _ = declare_incident_flow(session, playbook=load_playbook(playbook_path),
                                       incident=incident,
                                       snapshot=load_snapshot(session.connection()),
                                       now=app.clock.now())
    worker = build_worker(app, name="w")
    worker.run_cycle()
    now = app.clock.now()
    with session_scope(app.engine) as session:
        reply = InboundText("SMr1", BORA, REPLY)
        assert apply_inbound_text(session=session, text=reply, now=now) == "reply"
        record_intake(session, incident_id=row.id, community_ids=["moskee-b"],
                      contact_id="b1", form_id="needs", source="web", now=now,
                      answers={"needs": ["security"], "remarks": REMARK})
        acknowledge(session, incident_id=row.id, community_ids=["moskee-a"], by="staff:cli",
                    now=now, via="staff", note=NOTE)
    app.clock.advance(timedelta(minutes=40))
    worker.run_cycle()  # the liaison hears of buurt-d
    if close:
        with session_scope(app.engine) as session:
            close_incident(session, incident_id=row.id, now=app.clock.now(), actor="staff:cli")
    return row.id


def run_purge(app: AppContext, *, dry_run: bool = False,
              retention: Retention = DEFAULT) -> PurgeReport:
    with session_scope(app.engine) as session:
        return purge(session, now=app.clock.now(), retention=retention, dry_run=dry_run)


def show(app: AppContext, incident_id: int) -> dict[str, Any]:
    with session_scope(app.engine, read_only=True) as session:
        return show_incident(session, incident_id)


def dump(app: AppContext) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables a purge may touch."""
    out = {}
    with session_scope(app.engine) as session:
        for table in (Contact, Staff, Incident, Message, IntakeAnswer, IntakeToken, Reply, Note,
                      Event, AuditEntry):
            keys = list(table.__table__.primary_key.columns)
            out[table.__name__] = [r.model_dump() for r in session.exec(
                select(table).order_by(*keys))]
    return out


def all_text(app: AppContext, *tables: Any) -> str:
    """Every value of these tables, as one text to search."""
    rows = dump(app)
    return json.dumps({t.__name__: rows[t.__name__] for t in tables}, default=str,
                      ensure_ascii=False)


def test_settings_have_documented_defaults_and_ranges() -> None:
    s = Settings()
    assert (s.retention_withdrawn_days, s.retention_inactive_days,
            s.retention_closed_months) == (30, 365, 12)
    assert Retention.from_settings(s) == DEFAULT
    with pytest.raises(SettingsError, match=r"VERBINDER_RETENTION_INACTIVE_DAYS=10: .*30\.\.3650"):
        s.replace(retention_inactive_days=10)
    with pytest.raises(SettingsError, match="VERBINDER_RETENTION_CLOSED_MONTHS"):
        load_settings({"VERBINDER_RETENTION_CLOSED_MONTHS": "0"}, dotenv_path=None)
    with pytest.raises(SettingsError, match="VERBINDER_RETENTION_WITHDRAWN_DAYS"):
        load_settings({"VERBINDER_RETENTION_WITHDRAWN_DAYS": "soon"}, dotenv_path=None)
    assert load_settings({"VERBINDER_RETENTION_WITHDRAWN_DAYS": "0"},
                         dotenv_path=None).retention_withdrawn_days == 0


def test_months_before_counts_calendar_months() -> None:
    from datetime import UTC, datetime

    assert months_before(datetime(2027, 3, 31, 9, tzinfo=UTC), 1) == datetime(
        2027, 2, 28, 9, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 12) == datetime(2026, 1, 15,
                                                                           tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 13) == datetime(2025, 12, 15,
                                                                           tzinfo=UTC)


def exported(app: AppContext, incident_id: int, folder: Path) -> dict[str, str]:
    """The incident's after-action export in each text format, with personal data asked for."""
    out = {}
    for fmt in ("jsonl", "csv", "md", "html"):
        path = folder / f"export-{len(list(folder.iterdir()))}.{fmt}"
        export_incident(app.engine, incident_id=incident_id, fmt=fmt, output=path,
                        include_pii=True, lang="nl", actor="staff:test", now=app.clock.now())
        out[fmt] = path.read_text(encoding="utf-8")
    return out


def test_a_closed_incident_past_retention_keeps_its_figures_and_loses_its_persons(
    app: AppContext, playbook_path: Path, tmp_path: Path
) -> None:
    incident = run_incident(app, playbook_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    assert all([p for p in PERSONAL if p in text] and REMARK in text
               for text in exported(app, incident, folder).values())
    before = show(app, incident)
    assert REPLY in json.dumps(before) and NOTE in json.dumps(before) \
        and REMARK in json.dumps(before), "shown as before the texts moved out of the events"
    app.clock.advance(timedelta(days=360))  # not yet 12 months
    assert run_purge(app).incidents == []
    app.clock.advance(timedelta(days=10))
    rows_before = dump(app)
    planned = run_purge(app, dry_run=True)
    assert dump(app) == rows_before, "a dry run changes nothing"
    assert planned.incidents == [incident] and planned.contacts == []
    assert planned.counts["replies"] == planned.counts["notes"] == 1
    assert planned.counts["intake_answers"] == 1 and planned.counts["checklists"] == 1
    assert planned.counts["messages"] == len(rows_before["Message"]) > 0
    assert planned.counts["links"] == len(rows_before["IntakeToken"]) > 0

    done = run_purge(app)
    assert done.as_dict() == {**planned.as_dict(), "dry_run": False}
    after = show(app, incident)
    text = json.dumps(after, ensure_ascii=False)
    assert not [p for p in PERSONAL if p in text], text
    assert REPLY not in text and NOTE not in text and REMARK not in text
    # the figures stay
    assert after["summary"] == before["summary"]
    assert [c["status"] for c in after["communities"]] == [
        c["status"] for c in before["communities"]]
    assert [(e["kind"], e["at"]) for e in after["timeline"][:-1]] == [
        (e["kind"], e["at"]) for e in before["timeline"]]
    assert after["timeline"][-1]["kind"] == "incident.purged"
    for fmt, text in exported(app, incident, folder).items():  # --include-pii finds none
        assert not [p for p in PERSONAL if p in text] and REMARK not in text, fmt
        assert "incident.purged" in text or fmt in ("md", "html"), fmt
    moskee_b = next(c for c in after["communities"] if c["id"] == "moskee-b")
    assert [i["answers"] for i in moskee_b["intake"]] == [{"needs": ["security"]}]
    # the raw tables hold nothing either
    raw = all_text(app, Incident, Message, IntakeAnswer, Reply, Note, Event, AuditEntry)
    assert not [p for p in PERSONAL if p in raw]
    assert dump(app)["IntakeToken"] == []
    rows_after = dump(app)
    assert rows_after["Event"][:len(rows_before["Event"])] == rows_before["Event"], \
        "no timeline row changed"
    assert all(m["erased_at"] and m["address"] == "" and m["body"] == ""
               for m in rows_after["Message"])
    assert rows_after["Contact"] == rows_before["Contact"], "the registry has its own terms"
    purges = [a for a in rows_after["AuditEntry"] if a["action"] == "purge"]
    assert [json.loads(a["details"])["incidents"] for a in purges] == [[], [incident]], \
        "every purge is audited, also one that found nothing due"
    assert verify(app.engine).ok


def test_a_second_purge_finds_nothing(app: AppContext, playbook_path: Path) -> None:
    run_incident(app, playbook_path)
    app.clock.advance(timedelta(days=400))
    first = run_purge(app)
    assert first.erased > 0
    rows = dump(app)
    again = run_purge(app)
    assert again.erased == 0 and again.contacts == again.staff == again.incidents == []
    after = dump(app)
    assert {k: v for k, v in after.items() if k not in ("Event", "AuditEntry")} == {
        k: v for k, v in rows.items() if k not in ("Event", "AuditEntry")}


def test_a_purge_that_fails_changes_nothing(app: AppContext, playbook_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run_incident(app, playbook_path)
    app.clock.advance(timedelta(days=400))
    rows = dump(app)

    def fail(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk full")

    # after the messages were erased in the transaction
    monkeypatch.setattr(purge_module, "_erase_answers", fail)
    with pytest.raises(RuntimeError):
        run_purge(app)
    assert dump(app) == rows


def test_a_withdrawn_contact_is_erased_after_its_days_everywhere(
    app: AppContext, playbook_path: Path
) -> None:
    incident = run_incident(app, playbook_path, close=False)
    with session_scope(app.engine) as session:
        withdraw(session, contact_id="b1", by="staff:cli", via="staff", now=app.clock.now(),
                 note="Bora Een belde zelf")
    app.clock.advance(timedelta(days=29))
    assert run_purge(app).contacts == []
    app.clock.advance(timedelta(days=1))
    report = run_purge(app)
    assert report.contacts == ["b1"] and report.incidents == []
    with session_scope(app.engine) as session:
        b1 = session.get(Contact, "b1")
        assert (b1.name, b1.phone, b1.email, b1.role, b1.active) == ("", None, None, None,
                                                                      False)
        assert b1.erased_at is not None and b1.withdrawn_at is not None
        mine = session.exec(select(Message).where(Message.recipient_id == "b1")).all()
        assert mine and all(m.address == "" and m.erased_at for m in mine)
        others = session.exec(select(Message).where(Message.recipient_id != "b1")).all()
        assert all(m.address and m.erased_at is None for m in others)
        assert [r.text for r in session.exec(select(Reply))] == [""]
        notes = {n.subject: n.text for n in session.exec(select(Note))}
        assert notes == {None: NOTE, "contact:b1": ""}, "the ack note is the incident's"
        (answer,) = session.exec(select(IntakeAnswer)).all()
        assert answer.answers == {"needs": ["security"]}
        assert session.exec(select(IntakeToken).where(
            IntakeToken.recipient_id == "b1")).all() == []
    doc = show(app, incident)
    assert "Bora Een" not in json.dumps(doc) and REPLY not in json.dumps(doc)
    with app.engine.connect() as conn:
        export = build_export(conn, public=False, include_inactive=True)
        checklist = conn.execute(sa.select(Incident.__table__.c.checklist)).scalar()
    assert "b1" not in [c["id"] for c in export.rows["contacts"]]
    names = {c["id"]: c["name"] for e in (checklist if isinstance(checklist, dict) else
                                          json.loads(checklist))["communities"]
             for c in e["contacts"]}
    assert names["b1"] == "" and names["a1"] == "Ahmed Een"
    report = import_registry(app.engine, [ENGINE_REGISTRY], clock=app.clock)
    assert any("b1" in w and "withdrew" in w for w in report.warnings)
    with session_scope(app.engine) as session:
        b1 = session.get(Contact, "b1")
        assert (b1.name, b1.erased_at) == ("Bora Een", None), "the import wrote it again"
        assert b1.withdrawn_at is not None, "and it stays withdrawn"
    assert run_purge(app).contacts == ["b1"], "so the next purge erases it again"


def test_inactive_contacts_and_staff_are_erased_after_their_days(
    app: AppContext, tmp_path: Path
) -> None:
    folder = tmp_path / "smaller"
    folder.mkdir()
    for name, drop in (("contacts.csv", "c1,"), ("staff.csv", "st-oncall,")):
        lines = (ENGINE_REGISTRY / name).read_text().splitlines(keepends=True)
        (folder / name).write_text("".join(line for line in lines
                                           if not line.startswith(drop)))
    import_registry(app.engine, [folder / "contacts.csv", folder / "staff.csv"],
                    clock=app.clock)
    app.clock.advance(timedelta(days=364))
    assert run_purge(app).erased == 0
    app.clock.advance(timedelta(days=1))
    report = run_purge(app)
    assert (report.contacts, report.staff) == (["c1"], ["st-oncall"])
    with session_scope(app.engine) as session:
        assert session.get(Staff, "st-oncall").name == ""
        assert session.get(Staff, "st-coord").name == "Coco Ord"


def test_purge_command(app: AppContext, playbook_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    incident = run_incident(app, playbook_path)
    db = app.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("VERBINDER_RETENTION_CLOSED_MONTHS", "1")

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["verbinder", "--db", db, *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, capsys.readouterr().out

    from engine.clock import SystemClock

    monkeypatch.setattr(SystemClock, "now", lambda self: app.clock.now())
    app.clock.advance(timedelta(days=20))
    code, out = run("purge", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["incidents"] == [], "closed less than a month ago"
    app.clock.advance(timedelta(days=20))
    code, out = run("purge", "--dry-run", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["dry_run"] and doc["incidents"] == [incident]
    assert doc["retention"] == {"withdrawn_days": 30, "inactive_days": 365, "closed_months": 1}
    code, out = run("purge")
    assert code == 0 and "Gewist / erased" in out
    code, out = run("purge", "--json")
    assert code == 0 and json.loads(out)["incidents"] == []
    purges = [a for a in dump(app)["AuditEntry"] if a["action"] == "purge"]
    assert len(purges) == 2 and purges[0]["actor"].startswith("cli:")


def test_an_erasure_request_erases_one_withdrawn_contact_now(app: AppContext) -> None:
    with session_scope(app.engine) as session:
        for contact in ("a2", "b1"):
            withdraw(session, contact_id=contact, by="staff:cli", via="staff",
                     now=app.clock.now())
    from engine.errors import InputError

    for refused, why in (("a1", "still taking part"), ("zz", "no such contact")):
        with pytest.raises(InputError, match=why), session_scope(app.engine) as session:
            purge(session, now=app.clock.now(), retention=DEFAULT, contacts=[refused])
    with session_scope(app.engine) as session:
        report = purge(session, now=app.clock.now(), retention=DEFAULT, contacts=["b1"])
    assert report.contacts == ["b1"], "a2 keeps its 30 days"
    with session_scope(app.engine) as session:
        assert session.get(Contact, "b1").name == "" and session.get(Contact, "a2").name
