"""Outreach through the real `twilio` client against the fake Twilio, and real SMTP.

Each test drives worker cycles in-process on a fake clock and ends by asserting that nothing
was sent that it did not expect.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from engine.incidents.views import show_incident
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Message
from engine.wiring import build_worker
from tests.engine_support import ENGINE_REGISTRY, make_ctx
from tests.smoke.server import sent_body

AHMED, BORA = "+31611111101", "+31611111102".replace("02", "03")


@pytest.fixture
def live(sqlite_engine, clock, tmp_path, fake_twilio, smtp_server):
    """An AppContext sending SMS to the fake Twilio and email to the SMTP server."""
    import_registry(sqlite_engine, [ENGINE_REGISTRY], clock=clock)
    return make_ctx(
        sqlite_engine, clock, tmp_path,
        twilio_account_sid=fake_twilio.account_sid, twilio_auth_token=fake_twilio.auth_token,
        twilio_api_base_url=fake_twilio.url,
        twilio_messaging_service_sid="MG" + "0" * 32,
        smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False,
    )


def messages(ctx) -> list[Message]:
    with session_scope(ctx.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def test_overlapping_rules_give_one_message_per_person(live, declare, fake_twilio, smtp_server,
                                                       expected_sends):
    declare(severity=5, app=live)  # moskee-a and -b match two rules; Ahmed is primary of both
    build_worker(live, name="w").run_cycle()
    expected_sends.sms(AHMED, BORA)
    expected_sends.email("c1@example.org", "d1@example.org")
    to_ahmed = [m for m in fake_twilio.messages if m.to == AHMED]
    assert len(to_ahmed) == 1
    ahmed = next(m for m in messages(live) if m.address == AHMED)
    assert ahmed.community_ids == ["moskee-a", "moskee-b"]
    assert ahmed.locale == "ar" and "نعم" in to_ahmed[0].body
    assert to_ahmed[0].status_callback.startswith(
        "https://verbinder.example.org/webhooks/twilio/status")


def test_429_then_503_then_success_sends_once_not_before_retry_after(
        live, declare, fake_twilio, smtp_server, expected_sends):
    declare(app=live)
    fake_twilio.fail_for(BORA, "429", times=1, retry_after=120)
    worker = build_worker(live, name="w")
    start = live.clock.now()
    worker.run_cycle()
    bora = next(m for m in messages(live) if m.address == BORA)
    assert bora.state == "failed_temp"
    assert bora.next_attempt_at == start + timedelta(seconds=120)

    live.clock.advance(timedelta(seconds=119))
    worker.run_cycle()
    assert len([r for r in fake_twilio.requests_log if r.form.get("To") == [BORA]]) == 1

    fake_twilio.fail_for(BORA, "503", times=1)
    live.clock.advance(timedelta(seconds=1))
    worker.run_cycle()  # 503: retried after the backoff of a second attempt
    bora = next(m for m in messages(live) if m.address == BORA)
    assert (bora.state, bora.attempts) == ("failed_temp", 2)

    live.clock.advance(timedelta(seconds=30))
    worker.run_cycle()
    bora = next(m for m in messages(live) if m.address == BORA)
    assert (bora.state, bora.attempts) == ("accepted", 3)
    assert len([r for r in fake_twilio.requests_log if r.form.get("To") == [BORA]]) == 3
    expected_sends.sms(AHMED, BORA)
    expected_sends.email("d1@example.org")


def test_invalid_number_falls_back_to_email_at_once(live, declare, fake_twilio, smtp_server,
                                                    expected_sends):
    declare(app=live)
    fake_twilio.fail_for(BORA, "21211")
    build_worker(live, name="w").run_cycle()
    sms = next(m for m in messages(live) if m.address == BORA)
    email = next(m for m in messages(live) if m.address == "b1@example.org")
    assert sms.state == "failed_perm" and "21211" in (sms.detail or "")
    assert email.state == "accepted" and email.step == sms.step
    expected_sends.sms(AHMED)
    expected_sends.email("b1@example.org", "d1@example.org")


def test_provider_down_every_contact_gets_email_and_sms_shows_failing(
        live, declare, fake_twilio, smtp_server, expected_sends):
    incident_id = declare(app=live)
    fake_twilio.fail_next("503", times=1000)
    worker = build_worker(live, name="w")
    for _ in range(8):
        worker.run_cycle()
        live.clock.advance(timedelta(minutes=1))
    sms = [m for m in messages(live) if m.channel == "sms"]
    assert {m.address for m in sms} == {AHMED, BORA}
    assert all(m.state == "failed_perm" for m in sms)
    with session_scope(live.engine) as session:
        doc = show_incident(session, incident_id)
    assert doc["channels"]["sms"]["failing"] is True
    assert doc["channels"]["email"]["failing"] is False
    expected_sends.email("a1@example.org", "b1@example.org", "d1@example.org")


def test_outreach_logs_hold_no_personal_data(live, declare, fake_twilio, smtp_server,
                                             expected_sends, caplog):
    caplog.set_level(logging.DEBUG)
    declare(app=live)
    fake_twilio.fail_for(BORA, "21211")
    build_worker(live, name="w").run_cycle()
    expected_sends.sms(AHMED)
    expected_sends.email("b1@example.org", "d1@example.org")
    secrets_ = [AHMED, BORA, "a1@example.org", "b1@example.org", "d1@example.org",
                "Ahmed", "Bora", "Dirk", fake_twilio.auth_token]
    secrets_ += [sent_body(live, m).rsplit("/", 1)[-1] for m in messages(live)
                 if "/i/" in m.body]
    checked = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert checked, "the run logged nothing at all: the check would prove nothing"
    for record in checked:  # mail.log is the test's own SMTP server, not Verbinder
        text = record.getMessage()
        for secret in secrets_:
            assert secret not in text, f"{record.name} logged personal data"


def test_staff_message_falls_back_to_email_and_still_says_who_was_tried(
        live, declare, fake_twilio, smtp_server, expected_sends):
    declare(app=live)
    worker = build_worker(live, name="w")
    worker.run_cycle()
    live.clock.advance(timedelta(minutes=15))
    worker.run_cycle()
    fake_twilio.fail_for("+31622222201", "21211")  # the liaison's phone
    live.clock.advance(timedelta(minutes=15))
    worker.run_cycle()
    mail = next(m for m in smtp_server.messages if "lia@example.net" in m.rcpt_tos)
    text = mail.message.get_body(("plain",)).get_content()
    assert "Moskee A" in text and "Moskee B" in text
    expected_sends.sms(AHMED, BORA, "+31611111102", "+31622222203")
    expected_sends.email("d1@example.org", "lia@example.net")
