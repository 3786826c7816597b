"""Ambiguous sends are settled by asking the provider (the fake Twilio, through the real
`twilio` library), on SQLite and PostgreSQL, on a fake clock that the fake Twilio shares.

Found: the message is settled with its provider id. Certainly none: it is sent once more, at
most once. Email (SMTP cannot be asked) stays ambiguous.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.escalation.cycle import fire_due
from engine.outreach.settle import NONE_AFTER, settle_ambiguous
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Event, Message
from engine.wiring import AppContext, build_worker
from notifiers.console import ConsoleNotifier
from notifiers.twilio_sms import TwilioSmsNotifier
from tests.engine_support import ENGINE_REGISTRY, make_ctx, sent_to

from .conftest import ExpectedSends
from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, FakeTwilio

AHMED = "+31611111101"  # primary of moskee-a and of moskee-b
BORA = "+31611111103"  # primary of moskee-b
TIMEOUT = timedelta(seconds=120)


@pytest.fixture
def twilio(twilio_spec, expected_sends: ExpectedSends, clock: FakeClock):
    """The fake Twilio, creating messages at the fake clock's time."""
    fake = FakeTwilio(twilio_spec, clock=clock.now).start()
    expected_sends.watched_twilio.append(fake)
    yield fake
    fake.stop()


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path, twilio: FakeTwilio) -> AppContext:
    """The engine registry; SMS through the fake Twilio, email through the console channel."""
    import_registry(any_engine, [ENGINE_REGISTRY], clock=clock)
    ctx = make_ctx(any_engine, clock, tmp_path, claim_timeout_seconds=TIMEOUT.total_seconds())
    ctx.channels_override = {
        "sms": TwilioSmsNotifier(ACCOUNT_SID, AUTH_TOKEN,
                                 messaging_service_sid=MESSAGING_SERVICE_SID,
                                 api_base_url=twilio.url, timeout=5),
        "email": ConsoleNotifier("email", tmp_path / "outbox"),
    }
    return ctx


def message_to(app: AppContext, address: str) -> Message:
    with session_scope(app.engine) as session:
        return session.exec(select(Message).where(Message.address == address)).one()


def events(app: AppContext, kind: str) -> list[Event]:
    with session_scope(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(Event.id)))


def left_sending_by_a_dead_process(app: AppContext, address: str, **values: object) -> None:
    """As a process that fired the first steps, marked the message to `address` `sending` and
    died before its request left."""
    with session_scope(app.engine) as session:
        fire_due(session, now=app.clock.now(), links=app.links, worker="died-1")
    with session_scope(app.engine) as session:
        m = session.exec(select(Message).where(Message.address == address)).one()
        m.state, m.claimed_by, m.claimed_at = "sending", "died-1", app.clock.now()
        for name, value in values.items():
            setattr(m, name, value)


def test_a_send_twilio_took_without_answering_is_settled_with_its_sid(
        app, declare, twilio, expected_sends):
    expected_sends.sms(AHMED, BORA)
    twilio.fail_for(AHMED, "drop", times=1)  # created, then the connection is cut: no answer
    declare(app=app)

    build_worker(app, name="w").run_cycle()

    (created,) = [m for m in twilio.messages if m.to == AHMED]
    ahmed = message_to(app, AHMED)
    assert (ahmed.state, ahmed.provider_id) == ("accepted", created.sid)
    assert [(e.actor, e.data["message"], e.data["source"])
            for e in events(app, "message.reconciled")] == [("lookup", ahmed.id,
                                                              "provider_list")]
    assert [e.data["message"] for e in events(app, "message.ambiguous")] == [ahmed.id]
    assert Counter(twilio.recipients()) == Counter({AHMED: 1, BORA: 1})


def test_a_send_that_never_reached_twilio_is_sent_once_more_after_a_while(
        app, declare, twilio, expected_sends, clock):
    expected_sends.sms(BORA, AHMED)
    declare(app=app)
    left_sending_by_a_dead_process(app, AHMED)
    worker = build_worker(app, name="w")
    clock.advance(TIMEOUT + timedelta(seconds=1))  # on SQLite, a row-less claim this old

    worker.run_cycle()  # recovery: ambiguous; Twilio holds none, but its list may lag

    ahmed = message_to(app, AHMED)
    assert (ahmed.state, ahmed.next_attempt_at) == ("ambiguous", ahmed.ambiguous_at + NONE_AFTER)
    assert AHMED not in twilio.recipients()
    clock.advance(NONE_AFTER)

    worker.run_cycle()  # certainly none: sent once more

    ahmed = message_to(app, AHMED)
    (created,) = [m for m in twilio.messages if m.to == AHMED]
    assert (ahmed.state, ahmed.provider_id, ahmed.resends) == ("accepted", created.sid, 1)
    resent = [e for e in events(app, "message.pending") if e.actor == "lookup"]
    assert [(e.data["message"], e.data["reason"]) for e in resent] == [
        (ahmed.id, "provider_holds_none")]


def test_a_message_twilio_holds_for_another_of_ours_is_not_taken_for_it(
        app, declare, twilio, expected_sends, clock):
    """Ahmed's first message went out; his next one's request never left. Twilio's list shows
    the first one in the window: its sid is another message's, so none is this one's."""
    expected_sends.sms(AHMED, BORA, AHMED)
    declare(app=app)
    worker = build_worker(app, name="w")
    worker.run_cycle()
    first = message_to(app, AHMED)
    with session_scope(app.engine) as session:
        session.add(Message(
            dedupe_key="next", incident_id=first.incident_id, community_ids=["moskee-a"],
            recipient_kind="contact", recipient_id="a1", channel="sms", address=AHMED,
            locale="nl", body="Nog een bericht", step="esc:r0:s9:primary", state="sending",
            claimed_by="died-1", claimed_at=clock.now(), created_at=clock.now(),
            updated_at=clock.now()))
    clock.advance(TIMEOUT + timedelta(seconds=1))
    worker.run_cycle()
    clock.advance(NONE_AFTER)

    worker.run_cycle()

    with session_scope(app.engine) as session:
        second = session.exec(select(Message).where(Message.dedupe_key == "next")).one()
    assert (second.state, second.resends) == ("accepted", 1)
    assert second.provider_id not in (None, first.provider_id)
    assert [m.to for m in twilio.messages].count(AHMED) == 2


def test_none_again_after_the_one_resend_fails_it_and_falls_back(
        app, declare, twilio, expected_sends, clock, tmp_path):
    expected_sends.sms(BORA)
    declare(app=app)
    left_sending_by_a_dead_process(app, AHMED, resends=1)  # it was sent once more already
    worker = build_worker(app, name="w")
    clock.advance(TIMEOUT + timedelta(seconds=1))
    worker.run_cycle()
    clock.advance(NONE_AFTER)

    worker.run_cycle()

    with session_scope(app.engine) as session:
        to_ahmed = {m.channel: m.state for m in session.exec(
            select(Message).where(Message.recipient_id == "a1"))}
    assert to_ahmed == {"sms": "failed_perm", "email": "accepted"}, "by email instead"
    assert AHMED not in twilio.recipients()
    assert len(sent_to(app, tmp_path, "email", "a1@example.org")) == 1


def test_email_cannot_be_asked_and_stays_ambiguous(app, declare, twilio, expected_sends, clock):
    expected_sends.sms(AHMED, BORA)
    declare(app=app)
    left_sending_by_a_dead_process(app, "d1@example.org")
    worker = build_worker(app, name="w")
    clock.advance(TIMEOUT + timedelta(seconds=1))
    worker.run_cycle()
    clock.advance(NONE_AFTER)

    worker.run_cycle()

    assert message_to(app, "d1@example.org").state == "ambiguous"


def test_a_provider_that_does_not_answer_is_asked_again_later_one_question_a_pass(
        app, declare, twilio, expected_sends, clock, monkeypatch):
    asked: list[str] = []
    sms = app.channels["sms"]
    original = sms.lookup

    def counted(query):  # type: ignore[no-untyped-def]
        asked.append(query.reference)
        return original(query)

    monkeypatch.setattr(sms, "lookup", counted)
    declare(app=app)
    with session_scope(app.engine) as session:
        fire_due(session, now=clock.now(), links=app.links, worker="died-1")
    with session_scope(app.engine) as session:
        for m in session.exec(select(Message).where(Message.channel == "sms")):
            m.state, m.claimed_by, m.claimed_at = "sending", "died-1", clock.now()
    twilio.stop()  # Twilio cannot be reached
    clock.advance(TIMEOUT + timedelta(seconds=1))
    worker = build_worker(app, name="w")

    # both become ambiguous; each send round of the cycle (one after firing, one at its end)
    # asks one question, and stops there when it goes unanswered
    worker.run_cycle()
    assert asked == ["m1", "m2"]

    def one_pass() -> dict[str, int]:
        return settle_ambiguous(app.engine, clock=clock, channels=app.channels,
                                fallback=app.fallback)

    assert one_pass() == {}, "asked again only later"
    clock.advance(timedelta(minutes=1))
    assert one_pass() == {"unknown": 1}
    assert one_pass() == {"unknown": 1}
    assert asked == ["m1", "m2", "m1", "m2"]
    with session_scope(app.engine) as session:
        states = {m.state for m in session.exec(select(Message).where(Message.channel == "sms"))}
    assert states == {"ambiguous"}, "no answer is no licence to send again"
