"""Logging with redaction: no phone number, email address or token reaches a log line."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

_PATTERNS = [
    # a link token of any length: the path segment after /a/ or /i/ is the whole secret
    (re.compile(r"(/(?:i|a|ack|intake)/)[^\s\"'?#/]+"), r"\1[token]"),
    (
        re.compile(r"((?:token|signature|auth)[\"'=: ]+)[A-Za-z0-9_\-.~+/=]{8,}", re.I),
        r"\1[secret]",
    ),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?<![\w/])\+?\d[\d \-()]{7,}\d"), "[phone]"),
]


def redact(text: str) -> str:
    """Replace phone numbers, email addresses and tokens in a text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A filter that redacts the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message once, redacted, and drop its arguments."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the moment of writing (it may be replaced)."""

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send redacted log lines to stderr."""
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_verbinder", False):
            root.removeHandler(old)
    handler._verbinder = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that narrate routine work at INFO (migrations, HTTP requests, the scheduler).
    for noisy in ("alembic", "apscheduler", "httpx", "urllib3", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
