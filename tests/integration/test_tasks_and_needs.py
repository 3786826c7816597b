"""Tasks and needs first-class (issue 12, point 4), on SQLite and PostgreSQL.

Staff tick and untick tasks with who and a note (the note in the note table, an event on the
timeline); `incident show` lists per community its reach, tasks with owner, deadline and done
or overdue, what it answered in words, and at the end the replies that matched nothing; an
answer to the needs form adds its task and alerts the on-call officer at once; a take-over is
not counted as reached.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.audit.log import cli_actor
from engine.clock import FakeClock
from engine.errors import InputError
from engine.inbound.service import apply_inbound_text
from engine.incidents import service
from engine.oncall import service as oncall
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import AuditEntry, Event, IncidentTask, Message, Note, Timer
from engine.web.api.schemas import IncidentDetail
from engine.wiring import AppContext, build_worker
from notifiers.base import InboundText
from playbook.model import IncidentInput
from tests.cli_support import run_cli
from tests.engine_support import make_ctx

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"
START = datetime(2026, 12, 2, 1, 57, tzinfo=UTC)  # st-elhadi is on call (oncall.csv)
FATIMA = "+31639777560"  # p003, primary contact of moskee-annour (nl)


@pytest.fixture
def town(any_engine: Engine, tmp_path: Path) -> AppContext:
    """The sample municipality with its roster, the default playbook and a fake clock."""
    clock = FakeClock(START)
    import_registry(any_engine, [SAMPLE], clock=clock)
    oncall.import_roster(engine=any_engine, paths=[SAMPLE / "oncall.csv"])
    return make_ctx(any_engine, clock, tmp_path)


def declare_attack(ctx: AppContext) -> int:
    """Vandalism at Moskee An-Nour, declared now, and the first messages sent."""
    incident = IncidentInput(
        type="attack_on_place_of_worship", declared_at=ctx.clock.now(),
        title="Vernieling bij moskee / vandalism at a mosque", severity=4,
        fields={"target_faith": "islam", "target_community": "moskee-annour"})
    with session_scope(ctx.engine) as session:
        declared = service.declare(session=session, playbook=ctx.load_playbook(),
                                   incident=incident, now=ctx.clock.now())
    build_worker(ctx, name="t").run_cycle()
    return declared.incident_id


def show(ctx: AppContext, incident_id: int) -> dict:
    with session_scope(ctx.engine, read_only=True) as session:
        return service.show_incident(session=session, incident_id=incident_id,
                                     now=ctx.clock.now())


def community(doc: dict, community_id: str) -> dict:
    return next(c for c in doc["communities"] if c["id"] == community_id)


def task_of(tasks: list[dict], task_id: str) -> dict:
    return next(t for t in tasks if t["id"] == task_id)


def tick(ctx: AppContext, incident_id: int, task: str, community_id: str | None = None,
         **kw: object) -> bool:
    with session_scope(ctx.engine) as session:
        return service.tick_task(session=session, incident_id=incident_id, task_id=task,
                                 community_id=community_id, by="cli:ann@host",
                                 now=ctx.clock.now(), **kw)


def reply(ctx: AppContext, sender: str, body: str, sid: str) -> str:
    with session_scope(ctx.engine) as session:
        return apply_inbound_text(session=session, text=InboundText(sid, sender, body),
                                  now=ctx.clock.now())


# --- ticking tasks -------------------------------------------------------------------------


def test_a_task_is_ticked_and_unticked_with_who_and_a_note_kept_out_of_the_event(
        town: AppContext) -> None:
    incident_id = declare_attack(town)
    town.clock.advance(timedelta(minutes=10))
    assert tick(town, incident_id, "inform-crisis-team", note="Burgemeester gebeld 02:10")
    assert not tick(town, incident_id, "inform-crisis-team")  # done already: nothing recorded
    assert tick(town, incident_id, "keep-contact-person", "moskee-annour")

    doc = show(town, incident_id)
    done = task_of(doc["incident_tasks"], "inform-crisis-team")
    assert (done["state"], done["done_by"], done["note"]) == (
        "done", "cli:ann@host", "Burgemeester gebeld 02:10")
    assert done["done_at"] == "2026-12-02T02:07:00Z"
    assert done["owner"] == "coordinator"
    assert done["title"]["nl"].startswith("Informeer burgemeester")
    mine = task_of(community(doc, "moskee-annour")["tasks"], "keep-contact-person")
    assert mine["state"] == "done"
    assert mine["owner"] == "liaison" and mine["owner_staff"]["id"] == "st-elhadi"

    with session_scope(town.engine, read_only=True) as session:
        events = session.exec(select(Event).where(Event.kind == "task.done",
                                                  Event.incident_id == incident_id)).all()
        notes = session.exec(select(Note)).all()
        audit = session.exec(select(AuditEntry).where(
            AuditEntry.action == "incident.task")).all()
    by_task = {e.data["task"]: e for e in events}
    assert by_task["inform-crisis-team"].actor == "cli:ann@host"
    assert "Burgemeester" not in json.dumps(by_task["inform-crisis-team"].data)
    assert [n.text for n in notes] == ["Burgemeester gebeld 02:10"]
    assert by_task["inform-crisis-team"].data["note_id"] == notes[0].id
    assert len(audit) == 2

    town.clock.advance(timedelta(minutes=1))
    assert tick(town, incident_id, "inform-crisis-team", undo=True, note="toch niet bereikt")
    assert not tick(town, incident_id, "inform-crisis-team", undo=True)
    again = task_of(show(town, incident_id)["incident_tasks"], "inform-crisis-team")
    assert (again["state"], again["done_at"], again["note"]) == (
        "open", None, "toch niet bereikt")
    kinds = [e["kind"] for e in show(town, incident_id)["timeline"]
             if e["kind"].startswith("task.") and e.get("task") == "inform-crisis-team"]
    assert kinds == ["task.done", "task.undone"]


def test_a_task_past_its_deadline_is_overdue_until_done(town: AppContext) -> None:
    incident_id = declare_attack(town)
    first = task_of(show(town, incident_id)["incident_tasks"], "inform-crisis-team")
    assert first["state"] == "open" and first["due"] == "2026-12-02T02:57:00Z"
    town.clock.advance(timedelta(hours=1, minutes=1))
    doc = show(town, incident_id)
    assert task_of(doc["incident_tasks"], "inform-crisis-team")["state"] == "overdue"
    assert doc["summary"]["tasks_overdue"] >= 1
    tick(town, incident_id, "inform-crisis-team")
    assert task_of(show(town, incident_id)["incident_tasks"],
                   "inform-crisis-team")["state"] == "done"


def test_an_unknown_task_or_community_is_refused_saying_what_there_is(town: AppContext) -> None:
    incident_id = declare_attack(town)
    with pytest.raises(InputError, match=r"no such task for the incident itself.*"
                       r"tasks there: inform-crisis-team"):
        tick(town, incident_id, "inform-crisis-teem")
    with pytest.raises(InputError, match="it is a community task: add --community "
                       r"\(moskee-annour"):
        tick(town, incident_id, "security-check")
    with pytest.raises(InputError, match="--community kerk-x: not part of incident"):
        tick(town, incident_id, "first-contact", "kerk-x")
    with pytest.raises(InputError, match="note: at most 2000 characters"):
        tick(town, incident_id, "inform-crisis-team", note="x" * 2001)
    with session_scope(town.engine, read_only=True) as session:
        assert all(t.done_at is None for t in session.exec(select(IncidentTask)).all()
                   if t.kind == "action")
        assert session.exec(select(Note)).all() == []


# --- needs ---------------------------------------------------------------------------------


def test_a_need_by_sms_adds_its_task_and_alerts_the_on_call_officer_at_once(
        town: AppContext) -> None:
    incident_id = declare_attack(town)
    town.clock.advance(timedelta(minutes=5))
    assert reply(town, FATIMA, "1 3", "SM1") == "intake"

    doc = show(town, incident_id)
    annour = community(doc, "moskee-annour")
    assert annour["reach"] == "reached"
    security = task_of(annour["tasks"], "arrange-security")
    assert (security["owner"], security["state"], security["due"]) == (
        "oncall", "open", "2026-12-02T03:02:00Z")  # due an hour after the answer
    assert task_of(annour["tasks"], "arrange-aftercare")["owner"] == "liaison"
    (answer,) = annour["intake"]
    (needs, ) = [w for w in answer["in_words"] if w["question"] == "needs"]
    assert needs["words"] == {"nl": "Beveiliging, Nazorg", "en": "Security, Aftercare"}
    assert needs["options"] == ["security", "aftercare"]

    with session_scope(town.engine, read_only=True) as session:
        (alert,) = session.exec(select(Timer).where(Timer.kind == "alert")).all()
    assert (alert.notify, alert.template, alert.due_at) == (
        "oncall", "need_stated", town.clock.now())
    build_worker(town, name="t").run_cycle()
    with session_scope(town.engine, read_only=True) as session:
        staff = session.exec(select(Message).where(Message.template == "need_stated")).all()
    assert [(m.recipient_kind, m.recipient_id, m.step, m.locale) for m in staff] == [
        ("staff", "st-elhadi", "need:needs:security", "nl")]
    assert "Moskee An-Nour vraagt om: Beveiliging, Nazorg" in staff[0].body
    assert staff[0].state in ("accepted", "delivered")

    town.clock.advance(timedelta(minutes=5))  # the same need again adds nothing
    assert reply(town, FATIMA, "1", "SM2") == "intake"
    build_worker(town, name="t").run_cycle()
    with session_scope(town.engine, read_only=True) as session:
        tasks = session.exec(select(IncidentTask).where(
            IncidentTask.task_id == "arrange-security")).all()
        assert len(tasks) == 1
        assert len(session.exec(select(Timer).where(Timer.kind == "alert")).all()) == 1
        assert len(session.exec(select(Message).where(
            Message.template == "need_stated")).all()) == 1


def test_reached_counts_own_contacts_a_take_over_is_its_own_status(town: AppContext) -> None:
    incident_id = declare_attack(town)
    before = show(town, incident_id)["summary"]
    assert before["reached"] == 0 and before["taken_over"] == 0
    with session_scope(town.engine) as session:
        service.acknowledge(session=session, incident_id=incident_id,
                            community_ids=["moskee-annour"], by="contact:p003",
                            now=town.clock.now(), via="sms")
        service.take_over(session=session, incident_id=incident_id,
                          community_ids=["moskee-ayasofya"], staff_id="st-jansen",
                          now=town.clock.now(), via="sms")
    doc = show(town, incident_id)
    assert doc["summary"]["reached"] == 1 and doc["summary"]["taken_over"] == 1
    assert doc["summary"]["open"] == doc["summary"]["communities"] - 2
    assert community(doc, "moskee-annour")["reach"] == "reached"
    assert community(doc, "moskee-ayasofya")["reach"] == "taken_over"
    with session_scope(town.engine, read_only=True) as session:
        (listed,) = service.list_incidents(session=session)
    assert (listed["reached"], listed["taken_over"]) == (1, 1)


def test_replies_that_matched_nothing_are_shown_at_the_end(town: AppContext) -> None:
    incident_id = declare_attack(town)
    town.clock.advance(timedelta(minutes=3))
    assert reply(town, FATIMA, "Er staan mensen voor de deur", "SM3") == "reply"
    doc = show(town, incident_id)
    (unmatched,) = doc["unmatched_replies"]
    assert unmatched["by"] == "contact:p003"
    assert unmatched["text"] == "Er staan mensen voor de deur"
    assert "moskee-annour" in unmatched["communities"]

    # the API answers with the same document: its model keeps what is new
    api = IncidentDetail.model_validate(doc).model_dump()
    assert api["unmatched_replies"] == doc["unmatched_replies"]
    assert api["summary"]["taken_over"] == 0
    annour = community(api, "moskee-annour")
    assert annour["reach"] == "open"
    assert task_of(annour["tasks"], "first-contact")["owner"] == "liaison"


# --- the command line ------------------------------------------------------------------------


def run(args: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    return run_cli(monkeypatch, capsys, [*args])


def test_incident_task_and_show_on_the_command_line(
        town: AppContext, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    incident_id = declare_attack(town)
    reply(town, FATIMA, "1", "SM4")
    reply(town, FATIMA, "Er staan mensen voor de deur", "SM5")
    db = town.engine.url.render_as_string(hide_password=False)
    base = ["--db", db, "incident"]

    code, _, err = run([*base, "task", str(incident_id), "--task", "inform-crisis-team",
                        "--note", "Burgemeester [bold]gebeld[/bold]"], capsys, monkeypatch)
    assert code == 0, err
    assert "inform-crisis-team: afgevinkt / done" in err
    code, _, err = run([*base, "task", str(incident_id), "--task", "arrange-security",
                        "--community", "moskee-annour"], capsys, monkeypatch)
    assert code == 0, err
    code, _, err = run([*base, "task", str(incident_id), "--task", "bogus"], capsys,
                       monkeypatch)
    assert code == 2 and "--task bogus: no such task" in err
    code, _, err = run([*base, "task", str(incident_id), "--task", "mayor-statement",
                        "--note", "x\x1b[2J"], capsys, monkeypatch)
    assert code == 2 and "--note" in err
    code, _, err = run([*base, "task", "99", "--task", "mayor-statement"], capsys, monkeypatch)
    assert code == 2 and "incident 99: no such incident" in err
    code, _, err = run([*base, "task", str(incident_id), "--task", "y" * 100_000], capsys,
                       monkeypatch)
    assert code == 2 and len(err) < 2000

    code, out, err = run([*base, "show", str(incident_id)], capsys, monkeypatch)
    assert code == 0, err
    assert "Bereikt 1 van" in out
    assert "Burgemeester [bold]gebeld[/bold]" in out  # a note is text, never markup
    assert "Regel beveiliging met de politie" in out and "dienstdoende / on call" in out
    assert "Beveiliging / Security" in out
    assert out.rindex("replies that matched nothing") > out.index("Moskee An-Nour")
    assert "Er staan mensen voor de deur" in out

    code, out, _ = run([*base, "show", str(incident_id), "--json"], capsys, monkeypatch)
    doc = json.loads(out)
    crisis = task_of(doc["incident_tasks"], "inform-crisis-team")
    assert crisis["done_by"] == cli_actor()  # the same actor as the audit log names
    assert crisis["note"] == "Burgemeester [bold]gebeld[/bold]"
    assert doc["unmatched_replies"][0]["text"] == "Er staan mensen voor de deur"
