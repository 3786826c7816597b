"""Replies by SMS over real HTTP: acknowledgements, STOP/START, intake digits, staff taking over.

Every reply is a signed inbound webhook posted by the fake Twilio server to the served app; the
worker cycles run on the fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.store.models import IntakeAnswer, Message, OptOut, Timer

from .conftest import ExpectedSends
from .fake_twilio import FakeTwilio
from .server import (
    AHMED,
    AMAL,
    BORA,
    COORD,
    LIAISON,
    AppServer,
    Scenario,
    community,
    events,
    import_fixture_registry,
    messages,
    rows,
    serve_app,
    shown_events,
    smtp_settings,
    start_scenario,
    store_state,
    twilio_settings,
)
from .smtp_server import SmtpServer

STRANGER = "+31699999901"  # a number we never messaged


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, fake_twilio: FakeTwilio,
        smtp_server: SmtpServer) -> Iterator[AppServer]:
    """The application on SQLite, sending through the fake Twilio and the SMTP server."""
    import_fixture_registry(sqlite_engine, clock)
    with serve_app(sqlite_engine, clock, tmp_path, **twilio_settings(fake_twilio),
                   **smtp_settings(smtp_server)) as served:
        yield served


@pytest.fixture
def scenario(app: AppServer, expected_sends: ExpectedSends) -> Scenario:
    """The attack declared; Ahmed (moskee-a and -b) and Bora (moskee-b) have their SMS."""
    return start_scenario(app, expected_sends)


@pytest.fixture
def reply(scenario: Scenario, fake_twilio: FakeTwilio) -> Callable[[str, str], None]:
    """Send an SMS to our number from someone, through the signed inbound webhook."""

    def _reply(sender: str, body: str) -> None:
        assert fake_twilio.send_inbound(scenario.app.inbound_url, sender, body) == 200

    return _reply


def sent_after(scenario: Scenario, count: int) -> list[Message]:
    """Messages queued after the first `count`."""
    return messages(scenario.ctx)[count:]


@pytest.mark.parametrize("body", ["OK", " ja ", "YES!", "Tamam.", "  نعم ؟"])
def test_ack_word_acknowledges_and_stops_the_escalation(
    scenario: Scenario, reply, expected_sends: ExpectedSends, body: str
) -> None:
    reply(AHMED, body)
    doc = scenario.show()
    for cid in ("moskee-a", "moskee-b"):  # Ahmed's one SMS named both
        assert community(doc, cid)["status"] == "acknowledged"
        assert community(doc, cid)["acknowledged_by"] in ("contact:a1", "contact:b2")
    assert community(doc, "buurt-d")["status"] == "open"

    expected_sends.sms(COORD)  # the auditor raises quiet buurt-d (its policy has one step)
    scenario.cycle(minutes=15)  # the backup step of moskee-a (Amal) does not fire
    scenario.cycle(minutes=16)  # nor the liaison step
    scenario.cycle(minutes=30)  # nor the on-call step
    later = sent_after(scenario, 3)
    assert [(m.address, m.step, m.community_ids) for m in later] == [
        (COORD, "audit", ["buurt-d"])]
    timers = rows(scenario.ctx, Timer, Timer.kind == "escalation",
                  Timer.community_id.in_(["moskee-a", "moskee-b"]))
    assert {t.state for t in timers if t.round == 0 and t.step_index > 0} == {"cancelled"}


def test_stop_withdraws_consent_and_later_steps_leave_the_contact_out(
    scenario: Scenario, reply, expected_sends: ExpectedSends
) -> None:
    """STOP withdraws the sender's consent (issue 13): no later step reaches Bora, by SMS or
    by email. (Before, STOP only kept SMS away and the follow-up went by email instead.)"""
    reply(BORA, "STOP")
    assert [(o.address, o.channel) for o in rows(scenario.ctx, OptOut)] == [(BORA, "sms")]
    assert community(scenario.show(), "moskee-b")["status"] == "open", "STOP is no ack"
    assert [(e["contact"], e["via"]) for e in shown_events(
        scenario.ctx, scenario.incident_id, "consent.withdrawn")] == [("b1", "sms")]
    reply(AHMED, "OK")  # both mosques reached: only the follow-up of day 1 remains

    expected_sends.sms(AHMED, COORD)  # Ahmed's follow-up; the audit of quiet buurt-d
    scenario.cycle(days=1)
    followups = [m for m in messages(scenario.ctx) if m.step == "followup:aftercare-d1"]
    assert [(m.recipient_id, m.channel, m.state) for m in followups] == [
        ("a1", "sms", "accepted")]


def test_start_lifts_the_opt_out(scenario: Scenario, reply, expected_sends: ExpectedSends) -> None:
    for body, opted_out in (("STOP", True), ("start", False), ("stop", True), ("START", False),
                            ("Stop.", True), ("Start", False)):
        reply(BORA, body)
        assert bool(rows(scenario.ctx, OptOut)) is opted_out, body
    assert [e.kind for e in events(scenario.ctx) if e.kind.startswith("optout")] == [
        "optout.stop", "optout.start"] * 3
    reply(AHMED, "OK")
    expected_sends.sms(AHMED, BORA, COORD)  # both follow-ups by SMS again; the audit
    scenario.cycle(days=1)
    followups = [m for m in messages(scenario.ctx) if m.step == "followup:aftercare-d1"]
    assert sorted((m.address, m.state) for m in followups) == [
        (AHMED, "accepted"), (BORA, "accepted")]


def test_stop_inside_a_sentence_is_a_reply_not_an_opt_out(scenario: Scenario, reply) -> None:
    bodies = ["please stop", "stop sending me this", "STOP STOP"]
    for body in bodies:
        reply(BORA, body)
    assert rows(scenario.ctx, OptOut) == []
    replies = shown_events(scenario.ctx, scenario.incident_id, "inbound.reply")
    assert [(e["actor"], e["text"]) for e in replies] == [("contact:b1", b) for b in bodies]
    assert not any("text" in e.data for e in events(scenario.ctx, "inbound.reply")), \
        "the text is kept apart from the timeline, where purge can erase it"
    assert community(scenario.show(), "moskee-b")["status"] == "open"


@pytest.mark.parametrize("body", ["1 3", "1,3"])
def test_intake_digits_record_answers_and_acknowledge(
    scenario: Scenario, reply, body: str
) -> None:
    reply(BORA, body)
    (answer,) = rows(scenario.ctx, IntakeAnswer)
    assert (answer.community_id, answer.contact_id, answer.form_id, answer.source) == (
        "moskee-b", "b1", "needs", "sms")
    assert sorted(answer.answers["needs"]) == ["aftercare", "security"]
    doc = scenario.show()
    moskee_b = community(doc, "moskee-b")
    assert moskee_b["status"] == "acknowledged" and moskee_b["acknowledged_by"] == "contact:b1"
    assert [i["by"] for i in moskee_b["intake"]] == ["b1"]
    intake = next(t for t in moskee_b["tasks"] if t["id"] == "needs-intake")
    assert intake["done_by"] == "contact:b1" and intake["done_at"]
    assert community(doc, "moskee-a")["status"] == "open"
    assert community(doc, "moskee-a")["intake"] == []


def test_reply_from_an_unknown_number_changes_nothing(scenario: Scenario, reply) -> None:
    before = store_state(scenario.ctx)
    for body in ("OK", "1 3", "please call me"):
        reply(STRANGER, body)
    after = store_state(scenario.ctx)
    for table in ("messages", "communities", "tasks", "timers", "optouts", "answers", "tokens"):
        assert after[table] == before[table], f"{table} changed"
    new = after["events"][len(before["events"]):]
    assert [(e["kind"], e["incident_id"]) for e in new] == [("inbound.unmatched", None)] * 3


def test_staff_ok_to_an_escalation_takes_over(
    scenario: Scenario, reply, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(AMAL, LIAISON, COORD)  # backup, liaison, and the audit of buurt-d
    scenario.cycle(minutes=30)
    to_liaison = [m for m in messages(scenario.ctx) if m.address == LIAISON]
    assert [m.community_ids for m in to_liaison] == [["moskee-a", "moskee-b"]]
    reply(LIAISON, "Ok.")
    doc = scenario.show()
    for cid in ("moskee-a", "moskee-b"):
        row = community(doc, cid)
        assert (row["status"], row["acknowledged_by"], row["taken_over_by"]) == (
            "acknowledged", "staff:st-liaison", "st-liaison")
    took = [e for e in doc["timeline"] if e["kind"] == "community.acknowledged"]
    assert {(e["community"], e["actor"], e["via"]) for e in took} == {
        ("moskee-a", "staff:st-liaison", "sms"), ("moskee-b", "staff:st-liaison", "sms")}
    before = len(messages(scenario.ctx))
    scenario.cycle(minutes=31)  # the on-call step would fire now
    assert len(messages(scenario.ctx)) == before
