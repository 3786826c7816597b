"""Twilio webhooks over real HTTP: signed ones apply once, forged ones never act.

The application is served by uvicorn on loopback; the fake Twilio server sends the SMS and
posts the signed status callbacks and inbound texts, as Twilio would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.store.models import OptOut, ProviderReceipt
from engine.wiring import build_worker

from .conftest import ExpectedSends
from .fake_twilio import FROM_NUMBER, FakeTwilio
from .server import (
    AHMED,
    AHMED_EMAIL,
    BORA,
    DIRK_EMAIL,
    AppServer,
    Scenario,
    community,
    declare,
    declare_scenario,
    events,
    import_fixture_registry,
    message_to,
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

OLD_TOKEN = "previous-auth-token-fedcba9876543210"  # the secondary token, during rotation


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, fake_twilio: FakeTwilio,
        smtp_server: SmtpServer) -> Iterator[AppServer]:
    """The application on SQLite, sending through the fake Twilio and the SMTP server."""
    import_fixture_registry(sqlite_engine, clock)
    settings = {**twilio_settings(fake_twilio, secondary=OLD_TOKEN), **smtp_settings(smtp_server)}
    with serve_app(sqlite_engine, clock, tmp_path, **settings) as served:
        yield served


@pytest.fixture
def scenario(app: AppServer, expected_sends: ExpectedSends) -> Scenario:
    """The attack declared and its first messages sent."""
    return start_scenario(app, expected_sends)


def status_params(fake: FakeTwilio, sid: str, status: str) -> dict[str, str]:
    """The form of a status callback, as FakeTwilio.deliver posts it."""
    message = fake.message(sid)
    return {"AccountSid": fake.account_sid, "ApiVersion": "2010-04-01", "From": FROM_NUMBER,
            "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
            "To": message.to, "MessagingServiceSid": message.messaging_service_sid or ""}


def inbound_params(fake: FakeTwilio, sid: str, sender: str, body: str) -> dict[str, str]:
    """The form of an inbound SMS webhook with a fixed MessageSid (to replay it)."""
    return {"AccountSid": fake.account_sid, "ApiVersion": "2010-04-01", "Body": body,
            "From": sender, "MessageSid": sid, "NumMedia": "0", "NumSegments": "1",
            "SmsMessageSid": sid, "SmsSid": sid, "SmsStatus": "received", "To": FROM_NUMBER}


# --- signatures ---------------------------------------------------------------------------------


def test_signed_status_callback_with_ref_query_is_applied(
    scenario: Scenario, fake_twilio: FakeTwilio
) -> None:
    sid = scenario.sid(AHMED)
    callback = fake_twilio.message(sid).status_callback
    assert callback == f"{scenario.app.status_url}?ref=m{message_to(scenario.ctx, AHMED).id}"
    assert fake_twilio.deliver(sid, "delivered") == 204
    assert message_to(scenario.ctx, AHMED).state == "delivered"
    assert len(events(scenario.ctx, "message.delivered")) == 1
    states = {m["to"]: m["state"] for m in community(scenario.show(), "moskee-a")["messages"]}
    assert states == {"contact:a1": "delivered"}


def test_signed_inbound_sms_is_applied(scenario: Scenario, fake_twilio: FakeTwilio) -> None:
    assert fake_twilio.send_inbound(scenario.app.inbound_url, BORA, "OK") == 200
    assert community(scenario.show(), "moskee-b")["acknowledged_by"] == "contact:b1"


def forgery(name: str, url: str, tamper: dict[str, str]) -> dict[str, Any]:
    """How to forge a webhook to `url` (post_signed keywords)."""
    return {
        "wrong token": {"token": "not-the-auth-token-0123456789abcd"},
        "tampered": {"tamper": tamper},
        "wrong host": {"sign_url": url.replace(url.split("/webhooks")[0],
                                               "https://verbinder.example.org")},
        "other query": {"sign_url": url.split("?")[0] if "?" in url else url + "?ref=m1"},
        "missing signature": {"unsigned": True},
        "garbage signature": {"signature": "bm90IGEgc2lnbmF0dXJl"},
    }[name]


FORGERIES = ["wrong token", "tampered", "wrong host", "other query", "missing signature",
             "garbage signature"]


def test_forged_webhooks_are_refused_and_never_act(
    scenario: Scenario, fake_twilio: FakeTwilio
) -> None:
    ctx = scenario.ctx
    sid = scenario.sid(AHMED)
    callback = fake_twilio.message(sid).status_callback or ""
    inbound = scenario.app.inbound_url
    tampered_status = {"MessageStatus": "undelivered", "SmsStatus": "undelivered"}
    before = store_state(ctx)
    for name in FORGERIES:
        status = fake_twilio.post_signed(callback, status_params(fake_twilio, sid, "delivered"),
                                         **forgery(name, callback, tampered_status))
        reply = inbound_params(fake_twilio, "SM" + "0f" * 16, AHMED, "OK")
        stop = fake_twilio.post_signed(inbound, reply, **forgery(name, inbound, {"Body": "STOP"}))
        assert (status, stop) == (403, 403), name
        assert store_state(ctx) == before, f"a refused webhook ({name}) changed the store"
    assert rows(ctx, OptOut) == [] and rows(ctx, ProviderReceipt) == []
    # the genuine request still applies afterwards: the refusals left no receipt behind
    assert fake_twilio.deliver(sid, "delivered") == 204
    assert message_to(ctx, AHMED).state == "delivered"


def test_secondary_token_is_accepted_during_rotation(
    scenario: Scenario, fake_twilio: FakeTwilio
) -> None:
    assert fake_twilio.deliver(scenario.sid(BORA), "delivered", token=OLD_TOKEN) == 204
    assert message_to(scenario.ctx, BORA).state == "delivered"
    assert fake_twilio.send_inbound(scenario.app.inbound_url, AHMED, "ok", token=OLD_TOKEN) == 200
    assert community(scenario.show(), "moskee-a")["status"] == "acknowledged"


def test_replayed_webhooks_apply_once(scenario: Scenario, fake_twilio: FakeTwilio,
                                      expected_sends: ExpectedSends) -> None:
    ctx = scenario.ctx
    sid = scenario.sid(AHMED)
    callback = fake_twilio.message(sid).status_callback or ""
    params = status_params(fake_twilio, sid, "undelivered")
    assert fake_twilio.post_signed(callback, params) == 204
    once = store_state(ctx)
    assert fake_twilio.post_signed(callback, params) in (200, 204)  # the very same request
    assert store_state(ctx) == once, "a replayed status callback changed the store"
    assert len(events(ctx, "message.failed_perm")) == 1
    assert len(events(ctx, "message.fallback")) == 1

    reply = inbound_params(fake_twilio, "SM" + "ab" * 16, BORA, "Kunt u mij bellen?")
    assert fake_twilio.post_signed(scenario.app.inbound_url, reply) == 200
    once = store_state(ctx)
    assert fake_twilio.post_signed(scenario.app.inbound_url, reply) == 200
    assert store_state(ctx) == once, "a replayed inbound SMS changed the store"
    assert [e["text"] for e in shown_events(ctx, scenario.incident_id, "inbound.reply")] == [
        "Kunt u mij bellen?"]

    expected_sends.email(AHMED_EMAIL)  # the one fallback of the undelivered SMS
    scenario.cycle(minutes=1)
    assert [m.address for m in messages(ctx) if m.channel == "email"] == [DIRK_EMAIL, AHMED_EMAIL]


def test_every_webhook_is_refused_without_an_auth_token(
    sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, fake_twilio: FakeTwilio,
    smtp_server: SmtpServer, expected_sends: ExpectedSends
) -> None:
    import_fixture_registry(sqlite_engine, clock)
    with serve_app(sqlite_engine, clock, tmp_path, **smtp_settings(smtp_server)) as served:
        assert not served.ctx.settings.twilio_auth_token
        assert not served.ctx.settings.twilio_auth_token_secondary
        expected_sends.email(DIRK_EMAIL)  # SMS go to the console channel here
        declare(served.ctx)
        build_worker(served.ctx, name="w").run_cycle()
        before = store_state(served.ctx)
        ahmed = message_to(served.ctx, AHMED)
        params = {"AccountSid": fake_twilio.account_sid, "MessageSid": "SM" + "cd" * 16,
                  "MessageStatus": "delivered", "SmsSid": "SM" + "cd" * 16,
                  "SmsStatus": "delivered", "To": AHMED}
        assert fake_twilio.post_signed(f"{served.status_url}?ref=m{ahmed.id}", params) == 403
        assert fake_twilio.send_inbound(served.inbound_url, AHMED, "STOP") == 403
        assert fake_twilio.send_inbound(served.inbound_url, AHMED, "OK") == 403
        assert fake_twilio.post_signed(served.inbound_url, {"From": AHMED, "Body": "OK"},
                                       unsigned=True) == 403
        assert store_state(served.ctx) == before


# --- status callbacks: late, repeated, failed, ambiguous ----------------------------------------


def test_late_sent_after_delivered_leaves_it_delivered(
    scenario: Scenario, fake_twilio: FakeTwilio
) -> None:
    sid = scenario.sid(BORA)
    assert fake_twilio.deliver(sid, "delivered") == 204
    assert fake_twilio.deliver(sid, "sent") == 204
    message = message_to(scenario.ctx, BORA)
    assert (message.state, message.provider_status) == ("delivered", "delivered")
    assert len(events(scenario.ctx, "message.delivered")) == 1


def test_sent_twice_applies_once(scenario: Scenario, fake_twilio: FakeTwilio) -> None:
    sid = scenario.sid(BORA)
    assert fake_twilio.deliver(sid, "sent") == 204
    after_first = store_state(scenario.ctx)
    assert fake_twilio.deliver(sid, "sent") == 204
    assert store_state(scenario.ctx) == after_first
    message = message_to(scenario.ctx, BORA)
    assert (message.state, message.provider_status) == ("accepted", "sent")
    assert [r.key for r in rows(scenario.ctx, ProviderReceipt)] == [f"status:{sid}:sent"]


@pytest.mark.parametrize("failure", ["undelivered", "failed"])
def test_failed_status_falls_back_to_email_once(
    scenario: Scenario, fake_twilio: FakeTwilio, expected_sends: ExpectedSends, failure: str
) -> None:
    ctx = scenario.ctx
    sid = scenario.sid(AHMED)
    assert fake_twilio.deliver(sid, failure, error_code=30003) == 204
    assert fake_twilio.deliver(sid, failure, error_code=30003) == 204  # repeated
    assert fake_twilio.deliver(sid, "delivered") == 204  # late, contradicting: ignored
    message = message_to(ctx, AHMED)
    assert message.state == "failed_perm"
    assert message.detail == f"provider status {failure} code 30003"
    assert len(events(ctx, "message.fallback")) == 1
    expected_sends.email(AHMED_EMAIL)
    scenario.cycle(minutes=1)
    scenario.cycle(minutes=1)
    fallback = message_to(ctx, AHMED_EMAIL, "email")
    assert fallback.state == "accepted"
    assert fallback.community_ids == ["moskee-a", "moskee-b"]
    states = {m["channel"]: m["state"] for m in community(scenario.show(), "moskee-a")["messages"]}
    assert states == {"sms": "failed", "email": "sent"}


def test_delivered_for_an_ambiguous_message_reconciles_it_by_ref(
    app: AppServer, fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    fake_twilio.fail_for(AHMED, "drop", times=1)  # Twilio took it; we never heard back
    scenario = declare_scenario(app, expected_sends)  # Ahmed's send ends ambiguous
    ahmed = message_to(app.ctx, AHMED)
    assert (ahmed.state, ahmed.provider_id) == ("ambiguous", None)
    assert community(scenario.show(), "moskee-a")["messages"][0]["state"] == "unknown"
    (taken,) = [m for m in fake_twilio.messages if m.to == AHMED]
    assert taken.status_callback == f"{app.status_url}?ref=m{ahmed.id}"
    assert fake_twilio.deliver(taken.sid, "delivered") == 204
    ahmed = message_to(app.ctx, AHMED)
    assert (ahmed.state, ahmed.provider_id) == ("delivered", taken.sid)
    assert len(events(app.ctx, "message.reconciled")) == 1
    doc = scenario.show()
    assert community(doc, "moskee-a")["messages"][0]["state"] == "delivered"
    assert doc["summary"]["unknown"] == 0


# --- PostgreSQL ---------------------------------------------------------------------------------


def test_webhooks_on_postgres(pg_engine: Engine, clock: FakeClock, tmp_path: Path,
                              fake_twilio: FakeTwilio, smtp_server: SmtpServer,
                              expected_sends: ExpectedSends) -> None:
    import_fixture_registry(pg_engine, clock)
    with serve_app(pg_engine, clock, tmp_path, **twilio_settings(fake_twilio),
                   **smtp_settings(smtp_server)) as served:
        scenario = start_scenario(served, expected_sends)
        sid = scenario.sid(AHMED)
        before = store_state(served.ctx)
        assert fake_twilio.deliver(sid, "delivered", token="forged-token-0123456789abcdef") == 403
        assert fake_twilio.send_inbound(served.inbound_url, BORA, "STOP", unsigned=True) == 403
        assert store_state(served.ctx) == before
        assert fake_twilio.deliver(sid, "delivered") == 204
        assert fake_twilio.deliver(sid, "delivered") == 204  # replayed
        assert fake_twilio.deliver(sid, "sent") == 204  # late
        assert message_to(served.ctx, AHMED).state == "delivered"
        assert len(events(served.ctx, "message.delivered")) == 1
        reply = inbound_params(fake_twilio, "SM" + "ef" * 16, BORA, "ja")
        assert fake_twilio.post_signed(served.inbound_url, reply) == 200
        assert fake_twilio.post_signed(served.inbound_url, reply) == 200
        acks = events(served.ctx, "community.acknowledged")
        assert [(e.community_id, e.actor) for e in acks] == [("moskee-b", "contact:b1")]
