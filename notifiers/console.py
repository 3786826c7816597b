"""The development channel: prints each message (and keeps a JSON line) instead of sending it."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import phonenumbers

from notifiers.base import OutboundMessage, Outcome, SendResult

MARKER = "CONSOLE CHANNEL — not sent"
_LOCK = threading.Lock()
# Shown on a terminal: control characters (ESC sequences, carriage returns, bidi overrides) in a
# message become visible escapes; the JSON line keeps the text as it is.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(text: object) -> str:
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) <= 0xFF
                       else f"\\u{ord(m.group()):04x}", str(text))


def mask_address(address: str) -> str:
    """An address shown only in part: `+31 6 ****5279`, `z***@example.org`."""
    text = address.strip()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return _mask_phone(text)


def _mask_phone(text: str) -> str:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.national_number:
        national = str(number.national_number)
        if len(national) > 5:
            return f"+{number.country_code} {national[0]} ****{national[-4:]}"
    digits = "".join(c for c in text if c.isdigit())
    return f"****{digits[-2:]}" if len(digits) > 4 else "****"


class ConsoleNotifier:
    """Writes each message to a stream and, when a folder is set, to `FOLDER/CHANNEL.jsonl`."""

    def __init__(
        self, channel: str, directory: str | Path | None = None, stream: TextIO | None = None
    ) -> None:
        self.channel = channel
        self.directory = Path(directory) if directory is not None else None
        self.stream = stream

    @property
    def outbox_file(self) -> Path | None:
        """The JSON-lines file this channel appends to, if any."""
        return self.directory / f"{self.channel}.jsonl" if self.directory else None

    def send(self, message: OutboundMessage) -> SendResult:
        """Record the message as if sent; always accepted."""
        provider_id = f"console-{uuid.uuid4()}"
        record = self._record(message, provider_id)
        with _LOCK:
            self._print(record)
            self._append(record)
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id, detail="console: not sent")

    def _record(self, message: OutboundMessage, provider_id: str) -> dict[str, object]:
        return {
            "marker": MARKER,
            "channel": self.channel,
            "provider_id": provider_id,
            "reference": message.reference,
            "to": mask_address(message.to),
            "locale": message.locale,
            "subject": message.subject,
            "body": message.body,
            "html": message.html is not None,
            "at": datetime.now(UTC).isoformat(),
        }

    def _print(self, record: dict[str, object]) -> None:
        stream = self.stream or sys.stderr
        lines = [
            f"===== {MARKER} / CONSOLEKANAAL — niet verzonden ({record['channel']}) =====",
            f"to: {record['to']}   ref: {record['reference']}   locale: {record['locale']}",
        ]
        if record["subject"]:
            lines.append(f"subject: {_shown(record['subject'])}")
        lines += [_shown(record["body"]), "=" * 40, ""]
        stream.write("\n".join(lines))
        stream.flush()

    def _append(self, record: dict[str, object]) -> None:
        path = self.outbox_file
        if path is None:
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The lines hold message bodies with their links: readable by the owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
