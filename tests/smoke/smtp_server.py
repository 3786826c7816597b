"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it is given.

Optional STARTTLS with a self-signed certificate (made with the `openssl` command) and AUTH
LOGIN/PLAIN for one test user; recipients can be refused with 550 or 451; DATA can be held so
the client times out after it sent the message.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

TEST_USER = "verbinder-test"
TEST_PASSWORD = "test-password-not-secret"


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """The context the server presents."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(directory: Path) -> Certificate:
    """Generate a self-signed certificate with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return Certificate(cert, key)


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    authenticated_as: str | None
    tls: bool


@dataclass
class _Rules:
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    hold_data: float | None = None


class _Recorder:
    """The aiosmtpd handler."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self.server.rules.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or envelope.content or b"")
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            # stored as a mailbox would: wire CRLF line ends become LF
            message=message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default),  # type: ignore[arg-type]
            authenticated_as=login.decode() if login else None,
            tls=session.ssl is not None,
        )
        self.server.record(mail)
        hold = self.server.rules.hold_data
        if hold:
            await asyncio.sleep(hold)  # the client times out having sent the message
        return "250 2.0.0 queued"


class _Controller(Controller):
    """aiosmtpd's controller, on a port the OS picks."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """The test SMTP server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        certificate: Certificate | None = None,
        require_auth: bool = False,
        user: str = TEST_USER,
        password: str = TEST_PASSWORD,
    ) -> None:
        self.certificate = certificate
        self.user = user
        self.password = password
        self.rules = _Rules()
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if certificate is not None:
            kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
        if require_auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = _Controller(
            _Recorder(self), hostname="127.0.0.1", port=0, ready_timeout=10, **kwargs
        )

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        """Everything received, in order."""
        with self._lock:
            return list(self._messages)

    def recipients(self) -> list[str]:
        """Every envelope recipient of every message, in order."""
        return [rcpt for mail in self.messages for rcpt in mail.rcpt_tos]

    def record(self, mail: ReceivedMail) -> None:
        """Keep one received message."""
        with self._lock:
            self._messages.append(mail)

    def refuse(self, address: str, code: int = 550) -> None:
        """Answer RCPT TO for this address with 550 (permanent) or 451 (try later)."""
        texts = {550: "550 5.1.1 mailbox unavailable", 451: "451 4.3.0 try again later"}
        self.rules.refuse[address.lower()] = texts.get(code, f"{code} refused")

    def hold_data(self, seconds: float | None) -> None:
        """Answer DATA only after `seconds` (the message is recorded at once)."""
        self.rules.hold_data = seconds

    def reset(self) -> None:
        """Forget messages and rules."""
        with self._lock:
            self._messages.clear()
        self.rules = _Rules()

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> SmtpServer:
        """Listen in a background thread."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
