"""The SMS channel (the real `twilio` library) against the fake Twilio server."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from notifiers.base import DeliveryState, OutboundMessage, Outcome
from notifiers.twilio_sms import TwilioSmsNotifier
from notifiers.twilio_webhooks import (
    SIGNATURE_HEADER,
    parse_inbound_sms,
    parse_status_callback,
    verify_signature,
)

from .conftest import ExpectedSends
from .fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGING_SERVICE_SID,
    CallbackSink,
    FakeTwilio,
)

ANNA = "+31612345279"
BRAM = "+31687654321"
CALLBACK = "https://verbinder.example.org/webhooks/twilio/status"


def _sms(to: str = ANNA, reference: str = "m-1") -> OutboundMessage:
    return OutboundMessage(
        channel="sms", to=to, body="Evacuatie: ga naar De Kern", reference=reference
    )


def _notifier(fake: FakeTwilio, *, timeout: float = 5.0, **options: object) -> TwilioSmsNotifier:
    settings: dict[str, object] = {
        "messaging_service_sid": MESSAGING_SERVICE_SID,
        "status_callback_url": CALLBACK,
        "validity_period": 3600,
    }
    settings.update(options)
    return TwilioSmsNotifier(
        ACCOUNT_SID,
        AUTH_TOKEN,
        api_base_url=fake.url,
        timeout=timeout,
        **settings,  # type: ignore[arg-type]
    )


def test_accepted_with_messaging_service(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    result = _notifier(fake_twilio).send(_sms())
    assert result.outcome is Outcome.ACCEPTED
    (message,) = fake_twilio.messages
    assert result.provider_id == message.sid and message.sid.startswith("SM")
    assert message.messaging_service_sid == MESSAGING_SERVICE_SID and message.from_ is None
    assert message.body == "Evacuatie: ga naar De Kern"
    assert message.status_callback == CALLBACK + "?ref=m-1"
    assert message.validity_period == 3600
    assert message.status == "accepted"


def test_accepted_with_from_number(fake_twilio: FakeTwilio, expected_sends: ExpectedSends) -> None:
    expected_sends.sms(BRAM)
    notifier = _notifier(fake_twilio, messaging_service_sid=None, from_=FROM_NUMBER)
    result = notifier.send(_sms(BRAM))
    assert result.outcome is Outcome.ACCEPTED
    (message,) = fake_twilio.messages
    assert (message.from_, message.messaging_service_sid, message.status) == (
        FROM_NUMBER,
        None,
        "queued",
    )
    assert [entry.form.get("From") for entry in fake_twilio.requests_log] == [[FROM_NUMBER]]


def test_a_sent_message_can_be_fetched_back(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    notifier = _notifier(fake_twilio)
    sid = notifier.send(_sms()).provider_id
    fetched = notifier.client.messages(sid).fetch()
    assert (fetched.sid, fetched.to, fetched.status) == (sid, ANNA, "accepted")
    listed = notifier.client.messages.list(to=ANNA)
    assert [m.sid for m in listed] == [sid]


def test_rate_limited_is_retry_with_retry_after(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next("429", retry_after=17)
    result = _notifier(fake_twilio).send(_sms())
    assert (result.outcome, result.retry_after, result.error_code) == (Outcome.RETRY, 17.0, "20429")


@pytest.mark.parametrize("kind", ["503", "500"])
def test_server_errors_are_retry(fake_twilio: FakeTwilio, kind: str) -> None:
    fake_twilio.fail_next(kind)
    result = _notifier(fake_twilio).send(_sms())
    assert result.outcome is Outcome.RETRY and result.retry_after is None
    assert result.error_code == "20" + kind


def test_unavailable_with_retry_after(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next("503", retry_after=30)
    assert _notifier(fake_twilio).send(_sms()).retry_after == 30.0


def test_a_fault_for_next_requests_is_spent(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    fake_twilio.fail_next("503", times=2)
    notifier = _notifier(fake_twilio)
    outcomes = [notifier.send(_sms()).outcome for _ in range(3)]
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.ACCEPTED]


@pytest.mark.parametrize("kind", ["21211", "21610", "21614", "21612", "21408"])
def test_address_errors_are_permanent(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends, kind: str
) -> None:
    expected_sends.sms(BRAM)
    fake_twilio.fail_for(ANNA, kind)
    notifier = _notifier(fake_twilio)
    result = notifier.send(_sms(ANNA))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, kind)
    assert ANNA not in result.detail
    assert notifier.send(_sms(BRAM)).outcome is Outcome.ACCEPTED  # others are unaffected
    assert notifier.send(_sms(ANNA)).outcome is Outcome.PERMANENT  # and it stays so


def test_not_a_phone_number_is_refused_by_twilio(fake_twilio: FakeTwilio) -> None:
    result = _notifier(fake_twilio).send(_sms("06-bellen"))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "21211")


def test_wrong_auth_token_is_retry_and_marked_as_config(fake_twilio: FakeTwilio) -> None:
    notifier = TwilioSmsNotifier(
        ACCOUNT_SID,
        "wrong-token",
        messaging_service_sid=MESSAGING_SERVICE_SID,
        api_base_url=fake_twilio.url,
    )
    result = notifier.send(_sms())
    assert (result.outcome, result.error_code, result.config_error) == (
        Outcome.RETRY,
        "20003",
        True,
    )


def test_held_request_and_short_timeout_is_ambiguous(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)  # Twilio has it: that is exactly why it must not be resent blindly
    fake_twilio.fail_next("hang")
    result = _notifier(fake_twilio, timeout=0.5).send(_sms())
    assert result.outcome is Outcome.AMBIGUOUS and result.provider_id is None
    assert fake_twilio.wait_for_held(1, timeout=5)
    fake_twilio.release()
    assert fake_twilio.wait_for(lambda fake: fake._state.held == 0, timeout=5)


def test_connection_dropped_after_sending_is_ambiguous(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    fake_twilio.fail_next("drop")
    assert _notifier(fake_twilio).send(_sms()).outcome is Outcome.AMBIGUOUS


def test_connection_refused_is_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    notifier = TwilioSmsNotifier(
        ACCOUNT_SID,
        AUTH_TOKEN,
        from_=FROM_NUMBER,
        api_base_url=f"http://127.0.0.1:{port}",
        timeout=2,
    )
    result = notifier.send(_sms())
    assert result.outcome is Outcome.RETRY and "not reached" in result.detail


def test_invalid_requests_are_caught_by_the_fake(fake_twilio: FakeTwilio) -> None:
    notifier = _notifier(fake_twilio)
    with pytest.raises(Exception, match="Invalid request"):
        notifier.client.messages.create(to=ANNA, body="zonder afzender")  # neither From nor service
    with pytest.raises(Exception, match="Invalid request"):
        notifier.client.messages.create(
            to=ANNA, from_=FROM_NUMBER, body="x", status_callback="not-a-url"
        )
    problems = [p for invalid in fake_twilio.invalid_requests for p in invalid.problems]
    assert any("From or MessagingServiceSid" in p for p in problems)
    assert any("StatusCallback" in p for p in problems)
    fake_twilio.reset()  # these were deliberate


# --- webhooks: signed by the fake, checked by our verify_signature --------------------------


def _verifying_sink(tokens: list[str]) -> CallbackSink:
    def respond(url: str, headers: Mapping[str, str], form: dict[str, str]) -> int:
        return 204 if verify_signature(url, form, headers.get(SIGNATURE_HEADER), tokens) else 403

    return CallbackSink(respond)


def _send_with_sink(fake: FakeTwilio, sink: CallbackSink) -> str:
    notifier = _notifier(fake, status_callback_url=sink.url + "/webhooks/twilio/status")
    result = notifier.send(_sms())
    assert result.provider_id
    return result.provider_id


def test_status_callback_signed_and_parsed(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    with _verifying_sink([AUTH_TOKEN]) as sink:
        sid = _send_with_sink(fake_twilio, sink)
        assert fake_twilio.deliver(sid, "undelivered", error_code=30003) == 204
        (hook,) = sink.received
    assert hook.url.endswith("/webhooks/twilio/status?ref=m-1")
    event = parse_status_callback(hook.form)
    assert (event.provider_id, event.state, event.error_code) == (
        sid,
        DeliveryState.FAILED,
        "30003",
    )


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "someone-elses-token"},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
        {"tamper": {"MessageStatus": "delivered"}},
        {"sign_url": "https://elsewhere.example.net/webhooks/twilio/status?ref=m-1"},
        {"unsigned": True},
    ],
    ids=["forged-token", "garbage", "tampered-param", "wrong-url", "unsigned"],
)
def test_forged_status_callbacks_are_refused(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends, forgery: dict[str, object]
) -> None:
    expected_sends.sms(ANNA)
    with _verifying_sink([AUTH_TOKEN]) as sink:
        sid = _send_with_sink(fake_twilio, sink)
        assert fake_twilio.deliver(sid, "failed", **forgery) == 403


def test_secondary_token_is_accepted(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    with _verifying_sink(["new-primary-token", AUTH_TOKEN]) as sink:
        sid = _send_with_sink(fake_twilio, sink)
        assert fake_twilio.deliver(sid) == 204


def test_no_token_configured_refuses_even_valid_ones(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    expected_sends.sms(ANNA)
    with _verifying_sink([]) as sink:
        sid = _send_with_sink(fake_twilio, sink)
        assert fake_twilio.deliver(sid) == 403


def test_inbound_sms_signed_and_parsed(fake_twilio: FakeTwilio) -> None:
    with _verifying_sink([AUTH_TOKEN]) as sink:
        url = sink.url + "/webhooks/twilio/inbound"
        assert fake_twilio.send_inbound(url, BRAM, "STOP") == 204
        assert fake_twilio.send_inbound(url, BRAM, "JA", tamper={"Body": "NEE"}) == 403
        text = parse_inbound_sms(sink.received[0].form)
    assert (text.sender, text.body) == (BRAM, "STOP") and text.provider_id.startswith("SM")


def test_a_request_cut_off_by_a_dying_client_is_not_taken(fake_twilio: FakeTwilio) -> None:
    """A worker SIGKILLed mid-request sends headers and part of a body: the fake neither sends
    a message nor reports the client as breaking Twilio's description."""
    host, port = fake_twilio.url.removeprefix("http://").split(":")
    head = (f"POST /2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json HTTP/1.1\r\n"
            f"Host: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 200\r\n\r\nTo=%2B3161")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head.encode())
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(100) == b""  # the fake closed without an answer
    assert fake_twilio.requests_log == []
    assert fake_twilio.invalid_requests == []


def test_as_many_sending_threads_as_connections_reuse_them(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends
) -> None:
    """Twice 12 sends in flight at once: a channel keeping 12 connections opens 12, not a new
    one for every send beyond the library's own pool size."""
    numbers = [f"+316123453{i:02d}" for i in range(12)]
    notifier = _notifier(fake_twilio, connections=12)
    for burst in range(2):
        expected_sends.sms(*numbers)
        fake_twilio.fail_next("hang", times=12)
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = [pool.submit(notifier.send, _sms(n, f"m-{burst}-{n}")) for n in numbers]
            assert fake_twilio.wait_for_held(12), "12 sends were not in flight at once"
            fake_twilio.release()
            assert {r.result(timeout=10).outcome for r in results} == {Outcome.ACCEPTED}
        fake_twilio.reset_release()
    assert fake_twilio.connections == 12


def test_proxy_settings_of_the_environment_hold_and_are_read_once(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY aimed at a closed port: the send never reaches Twilio (retry); with NO_PROXY
    naming the host it goes straight there. Both as set when the channel was made."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    through_proxy = _notifier(fake_twilio)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = _notifier(fake_twilio)
    monkeypatch.delenv("NO_PROXY")  # read once: changing it now changes neither channel

    refused = through_proxy.send(_sms(ANNA, "m-1"))
    assert refused.outcome is Outcome.RETRY and "not reached" in (refused.detail or "")
    expected_sends.sms(BRAM)
    assert direct.send(_sms(BRAM, "m-2")).outcome is Outcome.ACCEPTED
    assert fake_twilio.recipients() == [BRAM]
