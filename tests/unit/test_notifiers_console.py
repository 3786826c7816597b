"""The console channel: marked, masked, readable, and a JSON line per message."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

from notifiers.base import OutboundMessage, Outcome
from notifiers.console import MARKER, ConsoleNotifier, mask_address


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("+31612345279", "+31 6 ****5279"),
        ("+32470123456", "+32 4 ****3456"),
        ("zora@example.org", "z***@example.org"),
        ("a.b@example.net", "a***@example.net"),
        ("not a number 12345", "****45"),
        ("12", "****"),
    ],
)
def test_addresses_are_masked(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def _message(to: str = "+31612345279", **extra: str) -> OutboundMessage:
    return OutboundMessage(
        channel="sms", to=to, body="Evacuatie Dorpsstraat", reference="m-1", **extra
    )


def test_send_writes_a_marked_block_and_is_accepted() -> None:
    stream = io.StringIO()
    result = ConsoleNotifier("sms", stream=stream).send(_message())
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id is not None and result.provider_id.startswith("console-")
    text = stream.getvalue()
    assert MARKER in text and "Evacuatie Dorpsstraat" in text and "m-1" in text
    assert "+31612345279" not in text and "+31 6 ****5279" in text


def test_each_send_gets_its_own_provider_id() -> None:
    notifier = ConsoleNotifier("sms", stream=io.StringIO())
    assert notifier.send(_message()).provider_id != notifier.send(_message()).provider_id


def test_directory_gets_one_json_line_per_message(tmp_path: Path) -> None:
    notifier = ConsoleNotifier("email", directory=tmp_path / "outbox", stream=io.StringIO())
    first = notifier.send(_message("zora@example.org", subject="Let op"))
    notifier.send(_message("piet@example.net"))
    lines = (tmp_path / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["to"] for r in records] == ["z***@example.org", "p***@example.net"]
    assert records[0]["marker"] == MARKER
    assert records[0]["provider_id"] == first.provider_id
    assert records[0]["subject"] == "Let op"
    assert records[0]["reference"] == "m-1"
    assert "zora@example.org" not in "\n".join(lines)


def test_without_directory_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ConsoleNotifier("sms", stream=io.StringIO()).send(_message())
    assert list(tmp_path.iterdir()) == []


def test_stderr_is_the_default_stream(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleNotifier("sms").send(_message())
    captured = capsys.readouterr()
    assert MARKER in captured.err and captured.out == ""


def test_the_outbox_file_is_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: 0644 files unless made otherwise
    try:
        channel = ConsoleNotifier("sms", tmp_path / "outbox", stream=io.StringIO())
        channel.send(_message())
    finally:
        os.umask(previous)
    assert channel.outbox_file is not None
    assert stat.S_IMODE(channel.outbox_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(channel.outbox_file.parent.stat().st_mode) == 0o700
