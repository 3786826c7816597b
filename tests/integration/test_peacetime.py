"""Peace time on the services, SQLite and PostgreSQL: the contact log, agreements, who is due,
liaison history, handover, crisis-readiness, the period's figures and purge of notes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from engine.clock import FakeClock
from engine.errors import InputError, NotFoundError
from engine.peacetime import service
from engine.privacy.purge import Retention, purge
from engine.registry.importer import import_registry
from engine.registry.liaisons import liaison_history
from engine.store.db import session_scope
from engine.store.models import ContactLog, IntakeAnswer, LiaisonChange, Message, Note
from playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "fixtures" / "peacetime" / "playbook.yaml"
REGISTRY = ROOT / "tests" / "fixtures" / "peacetime_registry"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
MADE = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(any_engine: Engine) -> Engine:
    import_registry(any_engine, [REGISTRY], clock=FakeClock(NOW - timedelta(days=400)))
    return any_engine


@pytest.fixture
def playbook():
    return load_playbook(PLAYBOOK)


def _log(engine: Engine, communities: list[str], at: datetime, *, by: str = "st-one",
         kind: str = "visit", persons: tuple[str, ...] = (), note: str | None = None,
         neutral: bool = False):
    with session_scope(engine) as session:
        return service.log_contact(session=session, communities=communities, kind=kind, by=by,
                                   persons=list(persons), at=at, now=max(NOW, at), note=note,
                                   neutral_ground=neutral, place="Bibliotheek")


def _declare(engine: Engine, playbook, at: datetime) -> int:  # type: ignore[no-untyped-def]
    from engine.incidents.flows import declare_incident_flow
    from engine.registry.snapshot import load_snapshot
    from playbook.model import IncidentInput

    incident = IncidentInput(type="attack", declared_at=at, title="Incident",
                             fields={"target": "islam"})
    with session_scope(engine) as session:
        row, _ = declare_incident_flow(session, playbook=playbook, incident=incident,
                                       snapshot=load_snapshot(session.connection()), now=at)
    assert row.id is not None
    return row.id


def test_contact_log_keeps_notes_apart_and_lists_them_only_when_asked(store: Engine) -> None:
    entry = _log(store, ["moskee-a", "kerk-b"], NOW - timedelta(days=1), kind="meeting",
                 persons=("a1", "b1"), note="Zorgen over de veiligheid", neutral=True)
    assert entry.communities == ["moskee-a", "kerk-b"] and entry.persons == ["a1", "b1"]
    listed = service.list_contacts(engine=store)
    assert [e.as_dict() for e in listed] == [{
        "id": entry.id, "at": "2026-05-31T10:00:00Z", "kind": "meeting", "by": "st-one",
        "communities": ["kerk-b", "moskee-a"], "with": ["a1", "b1"], "place": "Bibliotheek",
        "neutral_ground": True}]
    (with_note,) = service.list_contacts(engine=store, include_notes=True)
    assert with_note.note == "Zorgen over de veiligheid"
    with session_scope(store) as session:
        note = session.exec(select(Note)).one()
        assert note.subject == f"contactlog:{entry.id}"
        row = session.get(ContactLog, entry.id)
        assert row is not None and row.note_id == note.id
    assert [e.id for e in service.list_contacts(engine=store, community="kerk-b")] == [entry.id]
    assert service.list_contacts(engine=store, community="buurt-d") == []
    assert service.list_contacts(engine=store, since=NOW) == []


def test_refused_contact_lists_every_problem_and_stores_nothing(store: Engine) -> None:
    with pytest.raises(InputError) as info, session_scope(store) as session:
        service.log_contact(session=session, communities=["nope", "moskee-a"], kind="party",
                            by="st-ghost", persons=["c1", "zz"], at=NOW + timedelta(hours=1),
                            now=NOW, place="x" * 201, note="a\x1bb")
    problems = "\n".join(info.value.problems)
    for expected in ("--kind: 'party'", "--community nope", "--by st-ghost",
                     "--with c1: not a contact of the communities", "--with zz: no such",
                     "--at 2026-06-01T11:00:00Z: in the future", "--place: 201 characters",
                     "--note: holds a control character"):
        assert expected in problems
    with session_scope(store) as session:
        assert session.exec(select(ContactLog)).all() == []
        assert session.exec(select(Note)).all() == []


def test_agreements_add_done_and_open(store: Engine) -> None:
    with session_scope(store) as session:
        first = service.add_agreement(session=session, community="moskee-a",
                                      text="Open dag samen", due=date(2026, 7, 1), now=NOW)
        service.add_agreement(session=session, community="moskee-a", text="Tweede contact",
                              due=None, now=NOW)
    assert first == {"id": first["id"], "community": "moskee-a", "text": "Open dag samen",
                     "due": "2026-07-01", "done": False}
    with session_scope(store) as session:
        assert service.finish_agreement(session=session, agreement_id=first["id"], now=NOW)
    with session_scope(store) as session:
        assert not service.finish_agreement(session=session, agreement_id=first["id"], now=NOW)
    opened = service.open_agreements(engine=store, communities=["moskee-a", "kerk-b"])
    assert [a["text"] for a in opened["moskee-a"]] == ["Tweede contact"]
    with pytest.raises(NotFoundError), session_scope(store) as session:
        service.finish_agreement(session=session, agreement_id=999, now=NOW)
    with pytest.raises(InputError) as info, session_scope(store) as session:
        service.add_agreement(session=session, community="nope", text=" ", due=None, now=NOW)
    assert len(info.value.problems) == 2


def test_due_per_liaison_with_last_contact_and_agreements(store: Engine, playbook) -> None:
    _log(store, ["moskee-a"], NOW - timedelta(days=20))  # 30d: due in 10 days
    _log(store, ["pools-c"], NOW - timedelta(days=10), by="st-two")  # 60d: not due
    _log(store, ["buurt-d"], NOW - timedelta(days=100), by="st-two")  # 90d: 10 days overdue
    _log(store, ["club-e"], NOW - timedelta(days=400))  # no cadence: never listed
    with session_scope(store) as session:
        service.add_agreement(session=session, community="buurt-d", text="Buurtgesprek",
                              due=None, now=NOW)
    report = service.due_communities(engine=store, playbook=playbook, now=NOW)
    doc = report.as_dict()
    assert doc["count"] == 3 and doc["within_days"] == 14
    by = {g["liaison"]: g for g in doc["liaisons"]}
    assert by["st-one"]["name"] == "Een Liaison"
    assert [(c["community"], c["status"], c["days"]) for c in by["st-one"]["communities"]] == [
        ("kerk-b", "never", None), ("moskee-a", "due", 10)]
    (buurt,) = by["st-two"]["communities"]
    assert (buurt["status"], buurt["days"], buurt["every_days"]) == ("overdue", 10, 90)
    assert buurt["last_contact"] == "2026-02-21T10:00:00Z"
    assert buurt["last_contact_local"] == "2026-02-21T11:00+01:00"
    assert [a["text"] for a in buurt["agreements"]] == ["Buurtgesprek"]
    only = service.due_communities(engine=store, playbook=playbook, now=NOW, liaison="st-two")
    assert list(only.liaisons) == ["st-two"]


def test_due_counts_days_in_local_time_across_dst(store: Engine, playbook) -> None:
    """A 30-day cadence from 1 March 10:00 CET is due on 31 March 10:00 CEST (08:00 UTC)."""
    _log(store, ["moskee-a"], datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    _log(store, ["kerk-b"], datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    at = datetime(2027, 3, 31, 8, 0, tzinfo=UTC)
    items = service.due_communities(engine=store, playbook=playbook, now=at,
                                    liaison="st-one").liaisons["st-one"]
    moskee = next(i for i in items if i["community"] == "moskee-a")
    assert moskee["due_at"] == "2027-03-31T08:00:00Z" and moskee["status"] == "overdue"


def test_imports_and_handover_record_liaison_history(store: Engine, tmp_path: Path,
                                                    playbook) -> None:
    with store.connect() as conn:
        assert [(h["liaison_id"], h["previous_id"], h["source"])
                for h in liaison_history(conn, "moskee-a")] == [("st-one", None, "import")]
    folder = tmp_path / "reg"
    folder.mkdir()
    text = (REGISTRY / "communities.csv").read_text(encoding="utf-8")
    text = text.replace(",BU09990101,st-one", ",BU09990101,st-two")
    (folder / "communities.csv").write_text(text, encoding="utf-8")
    clock = FakeClock(NOW - timedelta(days=30))
    import_registry(store, [folder / "communities.csv"], clock=clock)
    import_registry(store, [folder / "communities.csv"], clock=clock)  # unchanged: nothing
    with session_scope(store) as session:
        service.hand_over(session=session, previous="st-two", liaison="st-new",
                          communities=["moskee-a"], playbook=playbook, now=NOW)
    with session_scope(store) as session:
        service.hand_over(session=session, previous="st-new", liaison="st-one",
                          communities=["moskee-a"], playbook=playbook, now=NOW)
    with store.connect() as conn:
        assert [(h["liaison_id"], h["previous_id"], h["source"])
                for h in liaison_history(conn, "moskee-a")] == [
            ("st-one", None, "import"), ("st-two", "st-one", "import"),
            ("st-new", "st-two", "handover"), ("st-one", "st-new", "handover")]
    ready = service.crisis_readiness(engine=store, playbook=playbook, now=NOW,
                                     consent_stale_days=365)
    assert ready.liaison_churn == [{"id": "moskee-a", "name": "Moskee A", "changes": 3}]
    later = service.crisis_readiness(engine=store, playbook=playbook,
                                     now=NOW + timedelta(days=340), consent_stale_days=365)
    assert later.liaison_churn == []  # the import's change is more than 12 months back


def test_handover_briefs_and_introduces_in_their_language(store: Engine, playbook) -> None:
    _log(store, ["moskee-a"], NOW - timedelta(days=3), kind="call")
    incident = _declare(store, playbook, NOW - timedelta(days=90))
    with session_scope(store) as session:  # needs stated in a past incident's intake form
        session.add(IntakeAnswer(incident_id=incident, community_id="moskee-a", contact_id="a1",
                                 form_id="needs", source="web", at=NOW - timedelta(days=90),
                                 answers={"needs": ["security", "aftercare"],
                                          "other": "nee"}))
    with session_scope(store) as session:
        service.add_agreement(session=session, community="kerk-b", text="Vrouwengroep spreken",
                              due=date(2026, 9, 1), now=NOW)
        done = service.hand_over(session=session, previous="st-one", liaison="st-new",
                                 communities=[], playbook=playbook, now=NOW)
    assert done.as_dict() == {
        "from": "st-one", "to": "st-new", "communities": ["club-e", "kerk-b", "moskee-a"],
        "briefing_queued": True, "introductions_queued": 3, "not_introduced": ["b2"]}
    with session_scope(store) as session:  # the handover's messages (no incident's)
        messages = {m.address: m for m in session.exec(select(Message).where(
            Message.incident_id.is_(None)))}  # type: ignore[union-attr]
    assert len(messages) == 4
    briefing = messages["new@example.net"]
    assert briefing.recipient_kind == "staff" and briefing.channel == "email"
    for text in ("Moskee A (moskee-a)", "Ahmed Een (imam), ar", "Vrouwengroep spreken",
                 "call (st-one)", "Een Liaison", f"incident {incident}: needs: security",
                 f"incident {incident}: needs: aftercare"):
        assert text in briefing.body
    assert "other" not in briefing.body  # not a choice of the form: never copied
    ahmed = messages["+31611111101"]
    assert (ahmed.channel, ahmed.locale) == ("sms", "ar") and ahmed.subject is None
    assert "Nieuwe Liaison" in ahmed.body and "بلدية Teststad" in ahmed.body
    assert "Moskee" not in ahmed.body  # an SMS never names a community
    ayse = messages["a2@example.org"]
    assert ayse.locale == "tr" and "Moskee A" in ayse.body and ayse.subject is not None
    assert "irtibat" in ayse.subject
    assert messages["+31611111103"].locale == "nl"
    with session_scope(store) as session:
        assert session.exec(select(LiaisonChange).where(
            LiaisonChange.source == "handover")).all()
        rows = session.connection().execute(sa.text(
            "SELECT id, liaison_id FROM community ORDER BY id")).all()
    assert [r[1] for r in rows] == ["st-two", "st-new", "st-new", "st-new", "st-two"]


def test_the_briefing_leaves_out_needs_met(store: Engine, tmp_path: Path) -> None:
    from engine.inbound.service import record_intake
    from engine.incidents.flows import tick_task

    text = PLAYBOOK.read_text(encoding="utf-8").replace(
        '{id: security, label: {nl: "Beveiliging", en: "Security"}, sms: "1"}',
        '{id: security, label: {nl: "Beveiliging", en: "Security"}, sms: "1", '
        'task: arrange-security}').replace("\ntasks:\n", """
tasks:
  arrange-security:
    title: {nl: "Beveiliging regelen", en: "Arrange security"}
    due: 1h
    kind: action
    owner: oncall
""", 1)
    assert "task: arrange-security" in text
    (tmp_path / "playbook.yaml").write_text(text, encoding="utf-8")
    playbook = load_playbook(tmp_path / "playbook.yaml")
    incident = _declare(store, playbook, NOW - timedelta(days=30))
    with session_scope(store) as session:
        record_intake(session, incident_id=incident, community_ids=["moskee-a"],
                      contact_id="a1", form_id="needs", source="web",
                      now=NOW - timedelta(days=30),
                      answers={"needs": ["security", "aftercare"]})

    def briefing() -> str:
        with session_scope(store) as session:
            report = service.hand_over(session=session, previous="st-one", liaison="st-new",
                                       communities=["moskee-a"], playbook=playbook, now=NOW)
            assert report.briefing
            body = session.exec(select(Message.body).where(
                Message.address == "new@example.net").order_by(col(Message.id).desc())).first()
            session.rollback()  # the same handover once more, after the tick
        assert body is not None
        return body

    before = briefing()
    assert f"incident {incident}: needs: security" in before
    with session_scope(store) as session:
        assert tick_task(session, incident_id=incident, task_id="arrange-security",
                         community_id="moskee-a", by="staff:st-two", now=NOW - timedelta(days=29))
    after = briefing()
    assert f"incident {incident}: needs: security" not in after, "met: its task was done"
    assert f"incident {incident}: needs: aftercare" in after, "no task done for it: open"


def test_two_handovers_in_one_instant_each_brief(store: Engine, playbook) -> None:
    for community in ("moskee-a", "kerk-b"):  # the same clock reading: one second, or less
        with session_scope(store) as session:
            service.hand_over(session=session, previous="st-one", liaison="st-new",
                              communities=[community], playbook=playbook, now=NOW)
    with session_scope(store) as session:
        briefings = [m.body for m in session.exec(select(Message).where(
            Message.address == "new@example.net").order_by(col(Message.id)))]
    assert len(briefings) == 2
    assert "Moskee A (moskee-a)" in briefings[0] and "Kerk B (kerk-b)" in briefings[1]
    assert "Kerk B" not in briefings[0]


def test_handover_refused_changes_nothing(store: Engine, playbook) -> None:
    with pytest.raises(InputError) as info, session_scope(store) as session:
        service.hand_over(session=session, previous="st-one", liaison="st-ghost",
                          communities=["pools-c", "nope"], playbook=playbook, now=NOW)
    problems = "\n".join(info.value.problems)
    assert "--to st-ghost" in problems and "--community pools-c: its liaison is not st-one" \
        in problems and "--community nope" in problems
    with pytest.raises(InputError), session_scope(store) as session:
        service.hand_over(session=session, previous="st-new", liaison="st-one",
                          communities=[], playbook=playbook, now=NOW)
    with session_scope(store) as session:
        assert session.exec(select(Message)).all() == []
        assert session.exec(select(LiaisonChange).where(
            LiaisonChange.source == "handover")).all() == []


def test_polish_introduction(store: Engine, playbook) -> None:
    with session_scope(store) as session:
        service.hand_over(session=session, previous="st-two", liaison="st-new",
                          communities=["pools-c"], playbook=playbook, now=NOW)
        bodies = {m.address: m for m in session.exec(select(Message))}
    assert bodies["+31611111105"].locale == "pl" and "gminie Teststad" in \
        bodies["+31611111105"].body


def test_crisis_ready_with_reasons_and_share_per_kind(store: Engine, playbook) -> None:
    _log(store, ["moskee-a"], NOW - timedelta(days=5))
    _log(store, ["pools-c"], NOW - timedelta(days=5), by="st-two")
    _log(store, ["buurt-d"], NOW - timedelta(days=200), by="st-two")
    ready = service.crisis_readiness(engine=store, playbook=playbook, now=NOW,
                                     consent_stale_days=365)
    reasons = {c["id"]: c["reasons"] for c in ready.communities}
    assert reasons["moskee-a"] == ["roles_missing: vrouwen", "no_template_language: tr"]
    assert reasons["kerk-b"] == ["eligible_contacts", "no_recent_contact",
                                 "roles_missing: jongeren"]
    assert reasons["pools-c"] == ["no_template_language: pl"]
    assert reasons["buurt-d"] == ["eligible_contacts", "no_recent_contact"]
    assert reasons["club-e"] == ["eligible_contacts"]
    stale = service.crisis_readiness(engine=store, playbook=playbook, now=NOW,
                                     consent_stale_days=30)
    assert "consent_stale" in {r for c in stale.communities for r in c["reasons"]}
    assert ready.by_kind["faith"] == {"ready": 0, "total": 2, "share": 0.0}
    assert ready.by_kind["migrant"] == {"ready": 0, "total": 1, "share": 0.0}
    doc = ready.as_dict()
    assert set(doc) == {"crisis_ready", "crisis_ready_by_kind", "liaison_changed_often",
                        "reasons"}


def test_period_figures(store: Engine) -> None:
    _log(store, ["moskee-a", "kerk-b"], datetime(2026, 4, 30, 22, 30, tzinfo=UTC),
         kind="meeting", neutral=True)  # 1 May 00:30 local time
    _log(store, ["pools-c"], datetime(2026, 5, 10, 9, 0, tzinfo=UTC), by="st-two", kind="call")
    _log(store, ["moskee-a"], datetime(2026, 3, 1, 9, 0, tzinfo=UTC))  # before the period
    with session_scope(store) as session:
        kept = service.add_agreement(session=session, community="moskee-a", text="a",
                                     due=date(2026, 5, 20), now=MADE)
        late = service.add_agreement(session=session, community="kerk-b", text="b",
                                     due=date(2026, 5, 10), now=MADE)
        service.add_agreement(session=session, community="kerk-b", text="c",
                              due=date(2026, 5, 25), now=MADE)
        service.finish_agreement(session=session, agreement_id=kept["id"],
                                 now=datetime(2026, 5, 19, 12, 0, tzinfo=UTC))
        service.finish_agreement(session=session, agreement_id=late["id"],
                                 now=datetime(2026, 5, 12, 12, 0, tzinfo=UTC))
    start = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # 1 May, Amsterdam
    end = datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    figures = service.period_figures(engine=store, start=start, end=end,
                                     zone="Europe/Amsterdam")
    doc = figures.as_dict()
    assert doc["contacts"] == 2 and doc["neutral_ground"] == 1 and doc["neutral_share"] == 0.5
    assert doc["bridging"] == 1
    assert doc["per_month"] == {"2026-05": {"faith": 1, "migrant": 1}}
    assert [c["id"] for c in doc["never_contacted"]] == ["buurt-d", "club-e"]
    assert doc["agreements"] == {"due": 3, "kept": 1, "made": 3, "done": 2}


def test_purge_erases_contact_notes(store: Engine) -> None:
    old = _log(store, ["kerk-b"], NOW - timedelta(days=500), note="oude notitie")
    _log(store, ["moskee-a"], NOW - timedelta(days=10), persons=("a1",), note="over Ahmed")
    fresh = _log(store, ["kerk-b"], NOW - timedelta(days=10), persons=("b1",), note="blijft")
    with session_scope(store) as session:
        session.connection().execute(sa.text(
            "UPDATE contact SET withdrawn_at = :at WHERE id = 'a1'"), {"at": NOW - timedelta(
                days=60)})
    with session_scope(store) as session:
        session.connection().execute(sa.text(
            "UPDATE note SET at = :at WHERE subject = :s"),
            {"at": NOW - timedelta(days=500), "s": f"contactlog:{old.id}"})
    retention = Retention(withdrawn_days=30, inactive_days=365, closed_months=12)
    with session_scope(store) as session:
        report = purge(session, now=NOW, retention=retention)
    assert report.counts["notes"] == 2
    texts = {e.id: e.note for e in service.list_contacts(engine=store, include_notes=True)}
    assert texts[fresh.id] == "blijft"
    assert sorted(texts.values()) == ["", "", "blijft"]  # erased: the text is gone


def test_access_request_holds_the_contacts_a_person_was_met_at(store: Engine) -> None:
    from engine.privacy.access import subject_data

    met = _log(store, ["moskee-a"], NOW - timedelta(days=2), persons=("a1",), note="over Ahmed")
    _log(store, ["kerk-b"], NOW - timedelta(days=2), persons=("b1",), note="niet over Ahmed")
    with session_scope(store) as session:
        doc = subject_data(session, "a1")
    (entry,) = doc["peacetime_contacts"]
    assert (entry["id"], entry["note"], entry["kind"]) == (met.id, "over Ahmed", "visit")
