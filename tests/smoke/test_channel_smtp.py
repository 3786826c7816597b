"""The email channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import socket

import pytest

from notifiers.base import OutboundMessage, Outcome
from notifiers.smtp_email import SmtpEmailNotifier

from .conftest import ExpectedSends
from .smtp_server import TEST_PASSWORD, TEST_USER, Certificate, SmtpServer

ZORA = "zora@example.org"
PIET = "piet@example.net"
SENDER = "Gemeente Voorbeeldstad <crisis@example.org>"


def _mail(to: str = ZORA, **extra: str) -> OutboundMessage:
    fields = {"subject": "Evacuatie Dorpsstraat", "body": "Ga naar De Kern.\nDank u."}
    fields.update(extra)
    return OutboundMessage(channel="email", to=to, reference="m-7", **fields)  # type: ignore[arg-type]


def _plain(server: SmtpServer, **options: object) -> SmtpEmailNotifier:
    settings: dict[str, object] = {"starttls": False, "sender": SENDER, "timeout": 5.0}
    settings.update(options)
    return SmtpEmailNotifier(server.host, server.port, **settings)  # type: ignore[arg-type]


def test_plain_send(smtp_server: SmtpServer, expected_sends: ExpectedSends) -> None:
    expected_sends.email(ZORA)
    result = _plain(smtp_server).send(_mail(to_name="Zora de Vries"))
    assert result.outcome is Outcome.ACCEPTED
    (mail,) = smtp_server.messages
    message = mail.message
    assert result.provider_id == message["Message-ID"]
    assert mail.mail_from == "crisis@example.org" and mail.rcpt_tos == [ZORA]
    assert message["To"].addresses[0].display_name == "Zora de Vries"
    assert message["Subject"] == "Evacuatie Dorpsstraat"
    assert message["Date"] is not None and not mail.tls
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Ga naar De Kern.\nDank u.\n"


def test_starttls_and_login(
    smtp_tls_server: SmtpServer, smtp_certificate: Certificate, expected_sends: ExpectedSends
) -> None:
    expected_sends.email(ZORA)
    notifier = SmtpEmailNotifier(
        smtp_tls_server.host,
        smtp_tls_server.port,
        user=TEST_USER,
        password=TEST_PASSWORD,
        starttls=True,
        sender=SENDER,
        timeout=5,
        ssl_context=smtp_certificate.client_context(),
    )
    assert notifier.send(_mail()).outcome is Outcome.ACCEPTED
    (mail,) = smtp_tls_server.messages
    assert mail.tls and mail.authenticated_as == TEST_USER


def test_wrong_password_is_retry_and_marked_as_config(
    smtp_tls_server: SmtpServer, smtp_certificate: Certificate
) -> None:
    notifier = SmtpEmailNotifier(
        smtp_tls_server.host,
        smtp_tls_server.port,
        user=TEST_USER,
        password="wrong",
        sender=SENDER,
        timeout=5,
        ssl_context=smtp_certificate.client_context(),
    )
    result = notifier.send(_mail())
    assert (result.outcome, result.config_error) == (Outcome.RETRY, True)


def test_untrusted_certificate_is_not_accepted(smtp_tls_server: SmtpServer) -> None:
    notifier = SmtpEmailNotifier(
        smtp_tls_server.host,
        smtp_tls_server.port,
        user=TEST_USER,
        password=TEST_PASSWORD,
        timeout=5,
    )
    assert notifier.send(_mail()).outcome is Outcome.RETRY  # default context: self-signed refused


def test_starttls_required_but_not_offered(smtp_server: SmtpServer) -> None:
    notifier = SmtpEmailNotifier(smtp_server.host, smtp_server.port, starttls=True, timeout=5)
    result = notifier.send(_mail())
    assert (result.outcome, result.config_error) == (Outcome.RETRY, True)


def test_multipart_text_and_html(smtp_server: SmtpServer, expected_sends: ExpectedSends) -> None:
    expected_sends.email(ZORA)
    html = "<p>Ga naar <b>De Kern</b>.</p>"
    _plain(smtp_server).send(_mail(html=html))
    message = smtp_server.messages[0].message
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert parts["text/plain"] == "Ga naar De Kern.\nDank u.\n"
    assert parts["text/html"].strip() == html


def test_utf8_arabic_body_and_subject(
    smtp_server: SmtpServer, expected_sends: ExpectedSends
) -> None:
    expected_sends.email(ZORA)
    body = "يرجى التوجه إلى مركز الإيواء في دي كيرن."
    result = _plain(smtp_server).send(_mail(body=body, subject="إخلاء", locale="ar"))
    assert result.outcome is Outcome.ACCEPTED
    mail = smtp_server.messages[0]
    assert mail.raw.isascii()  # 7-bit clean on the wire, whatever the script
    assert mail.message["Subject"] == "إخلاء"
    assert mail.message.get_content().strip() == body
    assert mail.message["Content-Language"] == "ar"


def test_header_injection_is_harmless(
    smtp_server: SmtpServer, expected_sends: ExpectedSends
) -> None:
    expected_sends.email(ZORA)  # and nobody else
    result = _plain(smtp_server).send(
        _mail(
            to_name="Zora\r\nBcc: piet@example.net",
            subject="Let op\r\nBcc: piet@example.net\r\n\r\nnep",
        )
    )
    assert result.outcome is Outcome.ACCEPTED
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == [ZORA]
    message = mail.message
    assert message["Bcc"] is None and message["Cc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == [ZORA]
    assert "\n" not in message["Subject"] and "\n" not in message["To"].addresses[0].display_name
    assert message.get_content() == "Ga naar De Kern.\nDank u.\n"


@pytest.mark.parametrize(
    "address", ["zora@example.org, piet@example.net", "Zora <zora@example.org>", "geen-adres", ""]
)
def test_bad_addresses_are_permanent_and_never_sent(smtp_server: SmtpServer, address: str) -> None:
    assert _plain(smtp_server).send(_mail(to=address)).outcome is Outcome.PERMANENT


def test_refused_550_is_permanent(smtp_server: SmtpServer, expected_sends: ExpectedSends) -> None:
    expected_sends.email(PIET)
    smtp_server.refuse(ZORA, 550)
    notifier = _plain(smtp_server)
    result = notifier.send(_mail())
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "550")
    assert notifier.send(_mail(to=PIET)).outcome is Outcome.ACCEPTED


def test_refused_451_is_retry(smtp_server: SmtpServer) -> None:
    smtp_server.refuse(ZORA, 451)
    result = _plain(smtp_server).send(_mail())
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "451")


def test_server_down_is_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = SmtpEmailNotifier("127.0.0.1", port, starttls=False, timeout=2).send(_mail())
    assert result.outcome is Outcome.RETRY and "not reached" in result.detail


def test_no_answer_after_data_is_ambiguous(
    smtp_server: SmtpServer, expected_sends: ExpectedSends
) -> None:
    expected_sends.email(ZORA)  # the server has it; we cannot know
    smtp_server.hold_data(3)
    result = _plain(smtp_server, timeout=0.5).send(_mail())
    assert result.outcome is Outcome.AMBIGUOUS
