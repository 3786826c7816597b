"""`incident export`, `incident callsheet` and `report` over a whole incident run through the
engine, on SQLite and PostgreSQL: every format, what personal data is left out, who asked,
files written whole and private, and the PDFs turned into PNG pages for a person to look at
(tests/output/reports/)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.cli import main
from engine.clock import FakeClock
from engine.registry.spreadsheet import needs_protection
from engine.store.db import session_scope
from engine.store.models import Event
from tests.cli_support import run_cli
from tests.engine_support import make_ctx
from tests.reports_scenario import (
    PERSONAL,
    REMARK,
    STAFF_NOTE,
    prepare_registry,
    run_smoke_incident,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tests" / "output" / "reports"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def smoke(any_engine: Engine, clock: FakeClock, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The scenario's incident, closed, on SQLite or PostgreSQL."""
    ctx = make_ctx(any_engine, clock, tmp_path)
    prepare_registry(ctx)
    return run_smoke_incident(ctx)


@pytest.fixture
def run(smoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Run:
    """Run `verbinder --db <the smoke store> ARGS` in-process; (exit code, stdout, stderr)."""
    url = smoke.ctx.engine.url.render_as_string(hide_password=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "evaluator")
    monkeypatch.setenv("LOGNAME", "evaluator")

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", url, *args])

    return _run


def exports(smoke) -> list[Event]:  # type: ignore[no-untyped-def]
    """The recorded exports of the scenario's incident."""
    with session_scope(smoke.ctx.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == "incident.exported")
                                 .order_by(Event.id)))


def event_count(smoke) -> int:  # type: ignore[no-untyped-def]
    with session_scope(smoke.ctx.engine) as session:
        return len(session.exec(select(Event.id).where(
            Event.incident_id == smoke.incident_id)).all())


def no_personal_data(text: str) -> None:
    """None of the scenario's names, numbers, addresses or free text appear."""
    found = [p for p in PERSONAL if p in text]
    assert not found, f"personal data in an export without --include-pii: {found}"


def pages(pdf: Path, name: str) -> list[Path]:
    """The PDF as PNG pages in tests/output/reports/ (pdftoppm), for a person to look at."""
    PAGES.mkdir(parents=True, exist_ok=True)
    for old in PAGES.glob(f"{name}-*.png"):
        old.unlink()
    shutil.copy(pdf, PAGES / f"{name}.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(PAGES / name)], check=True)
    return sorted(PAGES.glob(f"{name}-*.png"))


# --- jsonl / csv ------------------------------------------------------------------------------


def test_jsonl_holds_every_event_in_order_with_a_schema_and_no_personal_data(smoke, run) -> None:
    before = event_count(smoke)
    code, out, _ = run("incident", "export", str(smoke.incident_id), "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    head, events = lines[0], lines[1:]
    assert head["record"] == "incident" and head["schema"] == "verbinder.incident-export"
    assert head["v"] == 1 and head["pii"] is False and head["events"] == before
    assert head["incident"]["exercise"] is False
    assert head["incident"]["playbook"]["digest"].startswith("sha256:")
    assert all(e["record"] == "event" and e["v"] == 1 for e in events)
    assert [e["seq"] for e in events] == list(range(1, before + 1))
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    with session_scope(smoke.ctx.engine) as session:
        ids = [e.id for e in session.exec(select(Event).where(
            Event.incident_id == smoke.incident_id).order_by(Event.at, Event.id))]
    assert [e["id"] for e in events] == ids[:before]
    no_personal_data(out)
    kinds = {e["kind"] for e in events}
    assert {"incident.declared", "message.accepted", "message.delivered", "timer.fired",
            "community.acknowledged", "intake.answered", "incident.closed"} <= kinds
    answered = [e for e in events if e["kind"] == "intake.answered"
                and e["community"] == "moskee-noor"]
    assert answered[0]["data"]["answers"] == {"needs": ["security", "aftercare"]}
    assert "answers.remarks" in answered[0]["redacted"]
    noted = [e for e in events if e["kind"] == "community.acknowledged"
             and e["community"] == "kerk-oost"]
    assert "note" not in noted[0]["data"] and noted[0]["redacted"] == ["note"]
    [recorded] = exports(smoke)
    assert recorded.actor.startswith("cli:evaluator@") and recorded.incident_id == smoke.incident_id
    assert recorded.data == {"what": "export", "format": "jsonl", "pii": False}


def test_include_pii_keeps_free_text_and_is_recorded_with_who_asked(smoke, run,
                                                                    tmp_path: Path) -> None:
    target = tmp_path / "with-pii.jsonl"
    code, _, err = run("incident", "export", str(smoke.incident_id), "--format", "jsonl",
                       "--include-pii", "--output", str(target))
    assert code == 0 and "recorded" in err
    text = target.read_text()
    assert REMARK in text and STAFF_NOTE in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    [recorded] = exports(smoke)
    assert recorded.actor.startswith("cli:evaluator@")
    assert recorded.data == {"what": "export", "format": "jsonl", "pii": True}
    assert not list(tmp_path.glob(".*.part"))


def test_csv_is_rfc4180_one_row_per_event_and_formula_safe(smoke, run, tmp_path: Path) -> None:
    before = event_count(smoke)
    target = tmp_path / "timeline.csv"
    code, _, _ = run("incident", "export", str(smoke.incident_id), "--format", "csv",
                     "--output", str(target))
    assert code == 0
    raw = target.read_bytes()
    assert raw.count(b"\r\n") == before + 1  # CRLF row ends, no bare LF outside quotes
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == ["v", "incident", "exercise", "seq", "id", "at", "kind", "community",
                       "actor", "data", "redacted"]
    assert len(rows) == before + 1
    assert all(len(r) == 11 for r in rows)
    assert all(not needs_protection(cell) for r in rows for cell in r)
    no_personal_data(raw.decode("utf-8"))
    assert {json.loads(r[9])["type"] for r in rows[1:] if r[6] == "incident.declared"} == {
        "attack_on_place_of_worship"}
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 != 0o077  # no personal data: umask


# --- the evaluation report ---------------------------------------------------------------------


def test_markdown_report_has_the_figures_and_no_personal_data(smoke, run) -> None:
    code, out, _ = run("incident", "export", str(smoke.incident_id), "--format", "md")
    assert code == 0
    no_personal_data(out)
    assert out.startswith("# Evaluatie: Vernieling bij Moskee An-Noor") or \
        out.startswith("# Evaluatie: Vernieling bij Moskee An-Noor")
    assert "| getroffen | 1 | 1/1 (100%) |" in out
    assert "| **alle** | 6 | 4/6 (67%) |" in out
    row = next(line for line in out.splitlines() if line.startswith("| Moskee An"))
    cells = [c.strip() for c in row.split(" | ")]
    assert cells[1] == "getroffen" and cells[4].startswith("2 min")
    assert "Beveiliging, Nazorg" in row and "| nee |" in row
    assert "Houd hetzelfde vaste aanspreekpunt van de gemeente (te laat: +23 u 30 min)" in row
    fatih = next(line for line in out.splitlines() if line.startswith("| Fatih Camii"))
    assert "Beveiliging, Een gesprek" in fatih and "5 min" in fatih
    parafia = next(line for line in out.splitlines() if line.startswith("| Poolse"))
    assert "Niet bereikt" in parafia and "1 naar medewerker" in parafia
    code, en, _ = run("incident", "export", str(smoke.incident_id), "--format", "md",
                      "--lang", "en")
    assert code == 0 and "# Evaluation:" in en and "| **all** | 6 | 4/6 (67%) |" in en


def test_needs_are_met_when_the_tasks_their_answer_added_are_done(smoke) -> None:
    """The board's rule: security and aftercare added arrange-security and arrange-aftercare;
    met once both are done, whatever other action tasks (security-check) are still open."""
    from engine.reports.evaluation import assemble
    from tests.reports_scenario import tick

    def moskee() -> object:
        with smoke.ctx.engine.connect() as conn:
            figures = assemble(conn, smoke.incident_id, include_pii=False,
                               now=smoke.ctx.clock.now())
        return next(c for c in figures.communities if c.id == "moskee-noor")

    assert moskee().need_tasks == {"arrange-security", "arrange-aftercare"}
    assert moskee().needs_met is False
    tick(smoke.ctx, smoke.incident_id, "moskee-noor", "arrange-security")
    assert moskee().needs_met is False
    tick(smoke.ctx, smoke.incident_id, "moskee-noor", "arrange-aftercare")
    done = moskee()
    assert done.needs_met is True
    assert [t.done_at for t in done.tasks if t.id == "security-check"] == [None]


def test_html_report_is_self_contained_with_charts(smoke, run) -> None:
    code, out, _ = run("incident", "export", str(smoke.incident_id), "--format", "html")
    assert code == 0
    no_personal_data(out)
    assert out.count('src="data:image/svg+xml;base64,') == 2  # reach, one swimlane chart
    assert "http://" not in out.replace("http://www.w3.org", "") and "https://" not in out
    assert "<script" not in out


def test_pdf_report_and_its_pages(smoke, run, tmp_path: Path) -> None:
    target = tmp_path / "evaluatie.pdf"
    code, _, _ = run("incident", "export", str(smoke.incident_id), "--format", "pdf",
                     "--output", str(target))
    assert code == 0 and target.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", str(target), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "Evaluatie: Vernieling bij Moskee An-Noor" in text and "Samenvatting" in text
    assert "Tijdlijn per gemeenschap" in text
    no_personal_data(text)
    name = f"evaluation-{smoke.ctx.engine.dialect.name}"
    assert len(pages(target, name)) >= 2


# --- the call sheet ----------------------------------------------------------------------------


def test_callsheet_lists_contacts_in_checklist_order_with_scripts_in_their_language(
        smoke, run, tmp_path: Path) -> None:
    target = tmp_path / "belsheet.html"
    code, _, err = run("incident", "callsheet", str(smoke.incident_id), "--output", str(target))
    assert code == 0 and "personal data" in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    html = target.read_text()
    order = [html.index(name) for name in ("Moskee An-Noor", "Fatih Camii",
                                           "Interreligieus Beraad", "Poolse Parochie",
                                           "Protestantse Gemeente Oost", "Buurtraad West")]
    assert order == sorted(order)
    assert "06 12345601" in html and "Youssef Amrani" in html  # numbers as dialled
    assert '<div class="script-text" lang="ar" dir="rtl">' in html
    assert 'lang="tr" dir="ltr"' in html and 'lang="pl" dir="ltr"' in html
    assert "السلام عليكم" in html and "Dzień dobry" in html and "İyi günler" in html
    assert "<bdi>Lina Haddad</bdi>" in html  # the liaison, isolated inside the script
    assert "Beveiliging, Nazorg" in html and REMARK in html  # what is known
    assert "Dienstdoende nu:" in html
    [recorded] = exports(smoke)
    assert recorded.data == {"what": "callsheet", "format": "html", "pii": True}
    assert recorded.actor.startswith("cli:evaluator@")


def test_callsheet_pdf_renders_arabic_and_its_pages(smoke, run, tmp_path: Path) -> None:
    target = tmp_path / "belsheet.pdf"
    code, _, _ = run("incident", "callsheet", str(smoke.incident_id), "--format", "pdf",
                     "--output", str(target))
    assert code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600
    fonts = subprocess.run(["pdffonts", str(target)], check=True, capture_output=True,
                           text=True).stdout
    assert "NotoSansArabic" in fonts.replace("-", "")  # Arabic in a font that has it
    text = subprocess.run(["pdftotext", str(target), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "Katarzyna Nowak" in text and "Dzwonię w sprawie" in text
    name = f"callsheet-{smoke.ctx.engine.dialect.name}"
    assert len(pages(target, name)) >= 2


# --- refusals and failures ---------------------------------------------------------------------


def test_unknown_incident_and_bad_output_are_refused_and_change_nothing(smoke, run,
                                                                        tmp_path: Path) -> None:
    before = event_count(smoke)
    code, _, err = run("incident", "export", "999", "--format", "jsonl")
    assert code == 2 and "incident 999: no such incident" in err
    folder = tmp_path / "exports"
    folder.mkdir()
    code, _, err = run("incident", "export", str(smoke.incident_id), "--format", "md",
                       "--output", str(folder / "missing" / "x.md"))
    assert code == 2 and "does not exist" in err
    code, _, err = run("incident", "export", str(smoke.incident_id), "--format", "docx")
    assert code == 2
    code, _, err = run("incident", "callsheet", "999")
    assert code == 2
    assert event_count(smoke) == before and exports(smoke) == []
    code, _, err = run("incident", "export", str(smoke.incident_id), "--format", "md",
                       "--output", str(folder))
    assert code == 2 and "is a folder" in err
    assert list(folder.iterdir()) == []


def test_a_failing_export_leaves_no_file_and_no_record(smoke, run, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.reports import raw

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(raw, "write_jsonl", broken)
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "x.jsonl"
    target.write_text("the previous export\n")
    code, _, err = run("incident", "export", str(smoke.incident_id), "--format", "jsonl",
                       "--include-pii", "--output", str(target))
    assert code == 1 and "disk full" in err
    assert target.read_text() == "the previous export\n"  # not half-overwritten
    assert [p.name for p in folder.iterdir()] == ["x.jsonl"]
    assert exports(smoke) == []


# --- the period report ---------------------------------------------------------------------------


def test_period_report_counts_real_incidents_only_and_marks_exercises(
        any_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    ctx = make_ctx(any_engine, clock, tmp_path)
    prepare_registry(ctx)
    real = run_smoke_incident(ctx)
    clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    exercise = run_smoke_incident(ctx, exercise=True, title="Oefening Moskee An-Noor")
    clock.set(datetime(2026, 4, 2, 9, 0, tzinfo=UTC))  # outside the period
    run_smoke_incident(ctx, title="Later incident")
    url = any_engine.url.render_as_string(hide_password=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["verbinder", "--db", url, *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, capsys.readouterr().out

    code, out = run("report", "--from", "2026-01-01", "--to", "2026-03-31")
    assert code == 0
    no_personal_data(out)
    assert "Echte incidenten: 1 · Oefeningen (niet meegeteld): 1" in out
    assert f"| {real.incident_id}: Vernieling bij Moskee An-Noor" in out
    assert f"OEFENING · {exercise.incident_id}: Oefening Moskee An-Noor" in out
    assert "Later incident" not in out
    assert "| **alle** | 6 | 4/6 (67%) |" in out  # the exercise's six are not counted
    assert "- Aanval of vernieling bij een gebedshuis: 1" in out
    assert "- Ernst 4: 1" in out
    assert "| sms | 7 | 2 | 0 | 0 |" in out
    target = tmp_path / "kwartaal.pdf"
    code, _ = run("report", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "pdf",
                  "--output", str(target))
    assert code == 0 and target.read_bytes().startswith(b"%PDF-")
    assert len(pages(target, f"period-{any_engine.dialect.name}")) >= 1
    code, out = run("incident", "export", str(exercise.incident_id), "--format", "md")
    assert code == 0 and "**OEFENING**" in out
    code, out = run("incident", "export", str(exercise.incident_id), "--format", "jsonl")
    assert json.loads(out.splitlines()[0])["incident"]["exercise"] is True
    code, out = run("incident", "list")
    assert code == 0 and "(exercise)" in out
    code, out = run("incident", "show", str(exercise.incident_id))
    assert code == 0 and "OEFENING / EXERCISE" in out


def test_period_bounds_are_local_days() -> None:
    from engine.reports.period import period_bounds

    begin, end = period_bounds(datetime(2026, 1, 1).date(), datetime(2026, 3, 31).date(),
                               "Europe/Amsterdam")
    assert begin == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 00:00 summer time
    assert end - begin == timedelta(days=90, hours=-1)


def test_callsheet_leaves_out_a_contact_who_withdrew_consent_after_the_declaration(
        smoke, run, tmp_path: Path) -> None:
    from engine.privacy.consent import withdraw

    with session_scope(smoke.ctx.engine) as session:
        assert withdraw(session, contact_id="p5", by="staff:st-1", via="cli",
                        now=smoke.ctx.clock.now())
    target = tmp_path / "belsheet.html"
    code, _, _ = run("incident", "callsheet", str(smoke.incident_id), "--output", str(target))
    html = target.read_text()
    assert code == 0 and "Poolse Parochie" in html  # the community stays on the sheet
    assert "Katarzyna Nowak" not in html and "12 34 56 05" not in html
