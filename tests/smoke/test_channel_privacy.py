"""No channel logs a phone number or an email address, whatever happens to the send."""

from __future__ import annotations

import io
import logging

import pytest

from notifiers.base import OutboundMessage
from notifiers.console import ConsoleNotifier
from notifiers.smtp_email import SmtpEmailNotifier
from notifiers.twilio_sms import TwilioSmsNotifier

from .conftest import ExpectedSends
from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, FakeTwilio
from .smtp_server import SmtpServer

PHONE = "+31612345279"
EMAIL = "zora.devries@example.org"


SERVER_SIDE = ("mail.log",)  # aiosmtpd's own log: the mail provider's side, not ours


def _leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    needles = (PHONE, PHONE[1:], PHONE[-9:], EMAIL, "zora.devries")
    ours = [r for r in caplog.records if r.name not in SERVER_SIDE]
    return [r.getMessage() for r in ours if any(n in r.getMessage() for n in needles)]


def test_sms_sends_log_no_phone_number(
    fake_twilio: FakeTwilio, expected_sends: ExpectedSends, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    expected_sends.sms(PHONE, PHONE)
    notifier = TwilioSmsNotifier(
        ACCOUNT_SID,
        AUTH_TOKEN,
        messaging_service_sid=MESSAGING_SERVICE_SID,
        status_callback_url="https://verbinder.example.org/cb",
        api_base_url=fake_twilio.url,
        timeout=0.5,
    )
    message = OutboundMessage(channel="sms", to=PHONE, body="Evacuatie", reference="m-1")
    for fault in ("21211", "21610", "429", "503", "hang", None):
        if fault:
            fake_twilio.fail_next(fault)
        result = notifier.send(message)
        assert PHONE[-9:] not in result.detail
    fake_twilio.release()
    assert len(caplog.records) >= 6  # the sends were logged, only not the number
    assert _leaks(caplog) == []


def test_email_sends_log_no_address(
    smtp_server: SmtpServer, expected_sends: ExpectedSends, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    expected_sends.email(EMAIL)
    notifier = SmtpEmailNotifier(smtp_server.host, smtp_server.port, starttls=False, timeout=5)
    message = OutboundMessage(
        channel="email", to=EMAIL, body="Evacuatie", reference="m-2", subject="Let op"
    )
    notifier.send(message)
    smtp_server.refuse(EMAIL, 550)
    notifier.send(message)
    assert len([r for r in caplog.records if r.name.startswith("notifiers")]) == 2
    assert _leaks(caplog) == []


def test_console_logs_and_prints_no_full_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    for to in (PHONE, EMAIL):
        ConsoleNotifier("sms", stream=stream).send(
            OutboundMessage(channel="sms", to=to, body="Evacuatie", reference="m-3")
        )
    assert _leaks(caplog) == []
    assert PHONE not in stream.getvalue() and EMAIL not in stream.getvalue()
