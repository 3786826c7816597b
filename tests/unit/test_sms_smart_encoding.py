"""SMS segments as Twilio sends them: Smart Encoding of a Messaging Service, the setting that
says whether it is on, look-alike warnings, and the shipped texts staying in GSM-7."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from config.settings import load_settings
from engine.cli import main
from engine.escalation import auditor
from engine.playbooks.service import default_playbook_path
from playbook.loader import load_playbook
from playbook.sms import gsm7_lookalikes, is_gsm7, lookalike_warnings, smart_encoded, sms_info


@pytest.mark.parametrize(("char", "sent"), [
    ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"), ("\u2014", "-"),
    ("\u2026", "..."), ("\u00a0", "  "), ("\u2018", "'"), ("`", "'"), ("\u00ab", '"'),
])
def test_smart_encoding_sends_each_look_alike_in_gsm7(char: str, sent: str):
    text = f"Wij bellen u{char}zo"
    assert smart_encoded(text) == f"Wij bellen u{sent}zo"
    plain, smart = sms_info(text), sms_info(text, smart_encoding=True)
    assert plain.encoding == "UCS-2"
    assert (smart.encoding, smart.units, smart.characters) == (
        "GSM-7", len(text) - 1 + len(sent), len(text))


def test_smart_encoding_can_halve_the_segments():
    text = "Gemeente Voorbeeldstad: \u201cwij willen u graag spreken\u201d \u2013 " * 3
    assert len(text) == 165
    assert (sms_info(text).encoding, sms_info(text).segments) == ("UCS-2", 3)
    smart = sms_info(text, smart_encoding=True)
    assert (smart.encoding, smart.segments) == ("GSM-7", 2)


def test_a_text_that_needs_ucs2_anyway_is_sent_unchanged():
    # Arabic has no GSM-7 form, so Twilio replaces nothing: the ellipsis stays one unit.
    text = "\u0634" * 69 + "\u2026"
    assert smart_encoded(text) == text
    assert sms_info(text, smart_encoding=True) == sms_info(text)
    assert (sms_info(text).units, sms_info(text).segments) == (70, 1)


def test_a_grapheme_cluster_may_still_be_split_at_a_segment_boundary():
    # A thumbs-up with a skin tone is one grapheme of two surrogate pairs; 3GPP only forbids
    # splitting a surrogate pair, so 65 + 2 units fill the first segment and 2 + 65 the second.
    text = "\u0634" * 65 + "\U0001f44d\U0001f3fd" + "\u0634" * 65
    for smart in (False, True):
        info = sms_info(text, smart_encoding=smart)
        assert (info.encoding, info.units, info.segments) == ("UCS-2", 134, 2)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, False),
    ({"TWILIO_FROM": "+3197010000000"}, False),
    ({"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}, True),
    ({"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32, "TWILIO_SMART_ENCODING": "no"}, False),
    ({"TWILIO_FROM": "+3197010000000", "TWILIO_SMART_ENCODING": "yes"}, True),
])
def test_the_setting_follows_twilios_default_unless_set(
    tmp_path: Path, env: dict[str, str], expected: bool
):
    assert load_settings(env, dotenv_path=tmp_path / "none").sms_smart_encoded is expected


def test_gsm7_lookalikes_name_only_characters_that_alone_leave_gsm7():
    assert gsm7_lookalikes("Antwoord `OK` \u2019s avonds") == ["`", "\u2019"]
    assert gsm7_lookalikes("Antwoord OK") == []
    assert gsm7_lookalikes("\u0634 \u2019") == []  # UCS-2 anyway: the quote changes nothing


def test_playbook_check_warns_for_look_alikes_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "pb"
    shutil.copytree(default_playbook_path().parent, folder)
    path = folder / "playbook.yaml"
    text = path.read_text(encoding="utf-8")
    curly = "Antwoord \u201cOK\u201d als u dit leest \u2013 dank u."
    path.write_text(text.replace("Antwoord OK als u dit leest.", curly, 1), encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if curly in row)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["verbinder", "playbook", "check", str(path), "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert [(w["file"], w["line"]) for w in doc["warnings"]] == [(str(path), line)]
    assert doc["warnings"][0]["message"].startswith(
        "templates.first_contact.sms.nl: leaves GSM-7 only for '\u201c' (U+201C) -> '\"',"
        " '\u201d' (U+201D) -> '\"', '\u2013' (U+2013) -> '-';"
    )
    monkeypatch.setattr(sys, "argv", ["verbinder", "playbook", "check", str(path)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    out, err = capsys.readouterr()
    assert "OK" in out
    assert f"warning / waarschuwing: {path}:{line}:1: templates.first_contact" in err


def test_the_shipped_playbook_sms_texts_have_no_look_alikes():
    assert lookalike_warnings(load_playbook(default_playbook_path())) == []


def test_the_auditors_staff_sms_stays_in_gsm7():
    names = ["Moskee An-Nour", "Stichting Ayasofya Moskee", "Synagoge LJG"] * 4
    body = auditor._text(12, names)
    assert gsm7_lookalikes(body) == []
    assert is_gsm7(body)
    assert sms_info(body).segments == 4  # 9 as UCS-2 with the backticks it had
