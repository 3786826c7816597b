"""The email channel: one multipart message per send over SMTP (STARTTLS and login optional)."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from notifiers.base import OutboundMessage, Outcome, SendResult

log = logging.getLogger(__name__)


class _Stage(Exception):
    """A failure, with the SMTP stage it happened in (data sent or not)."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.detail)
        self.result = result


def one_line(text: str | None) -> str:
    """Text with CR, LF and other line breaks folded to spaces: no header injection."""
    return " ".join((text or "").splitlines()).replace("\r", " ").replace("\n", " ").strip()


def parse_address(text: str, display_name: str | None = None) -> Address:
    """An Address from a bare address and an optional display name; ValueError when invalid."""
    spec = text.strip()
    if not spec or any(c in spec for c in '\r\n<>,;" ') or spec.count("@") != 1:
        raise ValueError("not a single email address")
    try:
        return Address(display_name=one_line(display_name), addr_spec=spec)
    except (HeaderParseError, IndexError, ValueError) as exc:
        raise ValueError("not a single email address") from exc


def parse_sender(sender: str) -> Address:
    """The configured sender, `Name <addr>` or a bare address."""
    text = one_line(sender)
    if "<" in text and text.endswith(">"):
        name, _, addr = text[:-1].rpartition("<")
        return parse_address(addr, name.strip().strip('"'))
    return parse_address(text)


class SmtpEmailNotifier:
    """Sends one email per message over SMTP; answers with an outcome, never raises."""

    channel = "email"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        sender: str = "Verbinder <verbinder@example.org>",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.starttls = starttls
        self.sender = parse_sender(sender)
        self.timeout = timeout
        self.ssl_context = ssl_context

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The EmailMessage for one outbound message (text, plus HTML when given)."""
        email = EmailMessage(policy=policy.SMTP)
        email["From"] = self.sender
        email["To"] = parse_address(message.to, message.to_name)
        email["Subject"] = one_line(message.subject)
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = make_msgid(domain=self.sender.domain or "verbinder.invalid")
        # quoted-printable keeps the message 7-bit clean for any relay, whatever the script
        email.set_content(message.body, charset="utf-8", cte="quoted-printable")
        if message.html:
            email.add_alternative(
                message.html, subtype="html", charset="utf-8", cte="quoted-printable"
            )
        email["Content-Language"] = one_line(message.locale) or "nl"
        return email

    def send(self, message: OutboundMessage) -> SendResult:
        """Hand the message to the SMTP server and map whatever happens to one outcome."""
        try:
            email = self.build(message)
        except ValueError:
            result = SendResult(Outcome.PERMANENT, detail="smtp: invalid recipient address")
        else:
            result = self._deliver(email, message.to.strip())
        log.info("email %s: %s %s", message.reference, result.outcome, result.detail)
        return result

    def _deliver(self, email: EmailMessage, recipient: str) -> SendResult:
        message_id = str(email["Message-ID"])
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except smtplib.SMTPResponseException as exc:
            return SendResult(Outcome.RETRY, detail=f"smtp {exc.smtp_code} at connect")
        except OSError as exc:
            return SendResult(Outcome.RETRY, detail=f"smtp not reached: {type(exc).__name__}")
        try:
            self._open_session(smtp)
            self._envelope(smtp, recipient)
            self._data(smtp, email.as_bytes())
            _quit_quietly(smtp)
        except _Stage as stage:
            return stage.result
        except smtplib.SMTPResponseException as exc:
            return SendResult(Outcome.RETRY, detail=f"smtp {exc.smtp_code} before DATA")
        except OSError as exc:
            detail = f"smtp failed before DATA: {type(exc).__name__}"
            return SendResult(Outcome.RETRY, detail=detail)
        finally:
            smtp.close()
        return SendResult(Outcome.ACCEPTED, provider_id=message_id, detail="smtp 250")

    def _open_session(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if self.starttls:
            if not smtp.has_extn("starttls"):
                raise _Stage(
                    SendResult(Outcome.RETRY, detail="smtp: no STARTTLS", config_error=True)
                )
            smtp.starttls(context=self.ssl_context or ssl.create_default_context())
            smtp.ehlo()
        if self.user:
            try:
                smtp.login(self.user, self.password or "")
            except smtplib.SMTPException as exc:
                code = getattr(exc, "smtp_code", "")
                detail = f"smtp login refused {code}".strip()
                raise _Stage(SendResult(Outcome.RETRY, detail=detail, config_error=True)) from exc

    def _envelope(self, smtp: smtplib.SMTP, recipient: str) -> None:
        code, _ = smtp.mail(self.sender.addr_spec)
        if code != 250:
            # a refused sender is our settings' fault; 530/535 ask for login: keep retrying
            outcome = _result_of_reply("MAIL", code).outcome
            if code in (530, 535):
                outcome = Outcome.RETRY
            detail = f"smtp {code} at MAIL"
            raise _Stage(
                SendResult(outcome, detail=detail, error_code=str(code), config_error=True)
            )
        code, _ = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise _Stage(_result_of_reply("RCPT", code))

    def _data(self, smtp: smtplib.SMTP, content: bytes) -> None:
        try:
            code, _ = smtp.data(content)
        except smtplib.SMTPDataError as exc:
            raise _Stage(_result_of_reply("DATA", exc.smtp_code)) from exc
        except OSError as exc:  # timeouts and disconnects included
            detail = f"smtp: no answer after DATA: {type(exc).__name__}"
            raise _Stage(SendResult(Outcome.AMBIGUOUS, detail=detail)) from exc
        if code != 250:
            raise _Stage(_result_of_reply("DATA", code))


def _result_of_reply(stage: str, code: int) -> SendResult:
    """4xx: try again later; 5xx: this address will not take it."""
    outcome = Outcome.PERMANENT if 500 <= code < 600 else Outcome.RETRY
    return SendResult(outcome, detail=f"smtp {code} at {stage}", error_code=str(code))


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """Say goodbye after the message was taken; a failure here changes nothing about it."""
    with contextlib.suppress(OSError):
        smtp.quit()
