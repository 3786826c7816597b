"""Smoke-test fixtures: Twilio's description, the fake Twilio server, a real SMTP server.

Every smoke test ends by asserting that nothing was sent that it did not expect: declare the
recipients with `expected_sends.sms(...)` / `expected_sends.email(...)`; on teardown the fake
Twilio server and the SMTP server must have taken exactly those (as multisets) and seen no
request that breaks Twilio's description.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .fake_twilio import FakeTwilio
from .smtp_server import Certificate, SmtpServer, make_certificate
from .twilio_spec import SpecUnavailable, load_twilio_spec


@pytest.fixture(scope="session")
def twilio_spec() -> dict[str, Any]:
    """Twilio's OpenAPI description (API 2010), vendored and checked by its SHA-256."""
    try:
        return load_twilio_spec()
    except SpecUnavailable as exc:
        pytest.fail(f"cannot load Twilio's OpenAPI description: {exc}", pytrace=False)


def assert_nothing_unexpected(
    *,
    fake_twilio: FakeTwilio | None = None,
    smtp_server: SmtpServer | None = None,
    sms: list[str] | tuple[str, ...] = (),
    email: list[str] | tuple[str, ...] = (),
) -> None:
    """Assert the servers took exactly the expected recipients and saw no invalid request."""
    if fake_twilio is not None:
        assert not fake_twilio.invalid_requests, (
            f"requests that break Twilio's description: {fake_twilio.invalid_requests}"
        )
        assert not fake_twilio.internal_errors, f"fake Twilio bug: {fake_twilio.internal_errors}"
        got = Counter(fake_twilio.recipients())
        assert got == Counter(sms), f"SMS sent {dict(got)}, expected {dict(Counter(sms))}"
    if smtp_server is not None:
        got = Counter(address.lower() for address in smtp_server.recipients())
        want = Counter(address.lower() for address in email)
        assert got == want, f"email sent {dict(got)}, expected {dict(want)}"


@dataclass
class ExpectedSends:
    """What a smoke test expects to be sent; checked when the test ends."""

    sms_to: list[str] = field(default_factory=list)
    email_to: list[str] = field(default_factory=list)
    watched_twilio: list[FakeTwilio] = field(default_factory=list)
    watched_smtp: list[SmtpServer] = field(default_factory=list)

    def sms(self, *numbers: str) -> None:
        """Expect one SMS to each number (repeat a number to expect several)."""
        self.sms_to.extend(numbers)

    def email(self, *addresses: str) -> None:
        """Expect one email to each address (repeat to expect several)."""
        self.email_to.extend(addresses)

    def check(self) -> None:
        """Run assert_nothing_unexpected over every server this test used."""
        for fake in self.watched_twilio:
            assert_nothing_unexpected(fake_twilio=fake, sms=self.sms_to)
        for server in self.watched_smtp:
            assert_nothing_unexpected(smtp_server=server, email=self.email_to)


@pytest.fixture(autouse=True)
def expected_sends() -> Iterator[ExpectedSends]:
    """Declare what the test sends; asserted after the servers stop."""
    expected = ExpectedSends()
    yield expected
    expected.check()


@pytest.fixture
def fake_twilio(twilio_spec: dict[str, Any], expected_sends: ExpectedSends) -> Iterator[FakeTwilio]:
    """A running fake Twilio server (its `url` is the TWILIO_API_BASE_URL to use)."""
    fake = FakeTwilio(twilio_spec).start()
    expected_sends.watched_twilio.append(fake)
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made once per run."""
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server(expected_sends: ExpectedSends) -> Iterator[SmtpServer]:
    """A running plain SMTP server (no TLS, no AUTH)."""
    with SmtpServer() as server:
        expected_sends.watched_smtp.append(server)
        yield server


@pytest.fixture
def smtp_tls_server(
    smtp_certificate: Certificate, expected_sends: ExpectedSends
) -> Iterator[SmtpServer]:
    """A running SMTP server that requires STARTTLS and AUTH (TEST_USER / TEST_PASSWORD)."""
    with SmtpServer(certificate=smtp_certificate, require_auth=True) as server:
        expected_sends.watched_smtp.append(server)
        yield server
