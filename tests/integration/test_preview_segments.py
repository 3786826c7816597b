"""`verbinder incident preview` counts SMS segments as the sender will send them (Smart
Encoding of a Messaging Service on, plain sending off)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.cli import main
from engine.playbooks.service import default_playbook_path
from tests.integration.test_preview_cli import sample


@pytest.mark.parametrize(("settings", "segments"), [
    ({"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}, "nl: 2"),
    ({"TWILIO_FROM": "+3197010000000"}, "nl: 4"),
])
def test_preview_counts_segments_as_the_sender_will_send_them(
    sqlite_engine: Engine, sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], segments: str,
):
    with sqlite_engine.begin() as conn:
        sample.insert_sample(conn)
    folder = tmp_path / "pb"
    shutil.copytree(default_playbook_path().parent, folder)
    path = folder / "playbook.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Antwoord OK als u dit leest.",
                                 "Antwoord \u201cOK\u201d als u dit leest\u2026", 1),
                    encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_SMART_ENCODING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(sys, "argv", [
        "verbinder", "--db", sqlite_url, "--playbook", str(path), "incident", "preview",
        "--type", "polarising_event_abroad", "--field", "event=earthquake",
        "--field", "origin=turkish", "--at", "2026-03-01T09:00:00Z"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    assert segments in capsys.readouterr().out
