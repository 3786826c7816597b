"""Hostile text in reports: names and answers that try to be markup, formulas, maths, links,
bidi tricks or control characters, and absurd sizes. They must print as text, never act."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from engine.reports.charts import Lane, plain_label, swimlane_charts
from engine.reports.privacy import redact_event
from engine.reports.raw import cell, dumps
from engine.reports.render import md, render_chunks, write_pdf
from engine.reports.scripts import script_lines
from playbook.model import IntakeForm, IntakeOption, IntakeQuestion

HOSTILE = [
    "<script>alert(1)</script>",
    "[klik](http://evil.example) ![x](http://evil.example/x.png)",
    "| kolom | breuk |",
    "# kop\n- lijst\n1. genummerd",
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "$\\frac{1}{0}$ $$",
    "\u202eevil\u202c \x1b[31mrood\x1b[0m \x00nul",
    "www.evil.example en http://evil.example",
    "`code` *vet* _schuin_ ~~weg~~",
]
FORM = IntakeForm(id="needs", title={"nl": "x"}, questions=(
    IntakeQuestion(id="needs", type="multi", label={"nl": "x"},
                   options=(IntakeOption(id="security", label={"nl": "B"}),)),
    IntakeQuestion(id="remarks", type="text", label={"nl": "x"}),
))


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_keeps_hostile_text_inert(text: str) -> None:
    out = md(text)
    assert "\n" not in out and "<" not in out and "\x1b" not in out and "\u202e" not in out
    assert "](" not in out.replace("\\](", "")  # no link can form
    assert "|" not in out.replace("\\|", "")  # no table cell can break
    assert not out.startswith(("#", "-", "1.", "=", ">"))
    assert "http://" not in out and "www." not in out  # no autolink


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_cells_never_run_as_formula(text: str) -> None:
    value = cell(text)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([value])
    [[back]] = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert back == value
    assert back[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_json_lines_escape_bidi_and_c1_controls() -> None:
    line = dumps({"title": "\u202eevil\x85x\u2028y"})
    assert "\u202e" not in line and "\x85" not in line and "\u2028" not in line
    assert json.loads(line)["title"] == "\u202eevil\x85x\u2028y"


def test_unknown_keys_and_free_text_are_left_out_without_personal_data() -> None:
    data = {"text": "bel me op 0612345678", "note": "Jan de Boer", "answers":
            {"needs": ["security"], "remarks": "vrije tekst"}, "form": "needs",
            "someday": "a new key with text", "count": 3, "channel": "sms"}
    kept, removed = redact_event("inbound.reply", data, {"needs": FORM})
    assert kept == {"answers": {"needs": ["security"]}, "form": "needs", "count": 3,
                    "channel": "sms"}
    assert sorted(removed) == ["answers.remarks", "note", "someday", "text"]
    forged, gone = redact_event("intake.answered", {"answers": {"needs": ["not-an-option"],
                                                                "other": "x"}, "form": "needs"},
                                {"needs": FORM})
    assert forged == {"answers": {}, "form": "needs"} and sorted(gone) == [
        "answers.needs", "answers.other"]


@pytest.mark.parametrize("text", HOSTILE)
def test_chart_labels_are_plain_text(text: str) -> None:
    label = plain_label(text)
    assert "\x1b" not in label and "\n" not in label and len(label) <= 46
    assert "$" not in label.replace("\\$", "")  # mathtext cannot start


def test_swimlane_draws_hostile_and_huge_names() -> None:
    lanes = [Lane(name=t * 50, role="affected", end=None, sent=[0.0], delivered=[],
                  staff=[30.0], needs=[], followups=[]) for t in HOSTILE]
    charts = swimlane_charts(lanes, "nl")
    assert len(charts) == 1 and "<script" not in charts[0] and "<!--" not in charts[0]


def _view(name: str) -> dict:
    from engine.reports.i18n import words

    w = words("en")
    return {
        "w": w, "lang": "en", "title": name, "incident_id": 1, "incident_title": name,
        "municipality": name, "exercise": True, "pii": False, "head": [("Type", name)],
        "roles": [], "milestone_headers": [], "milestones": [], "channels": [],
        "communities": [{"name": name, "role": "affected", "reached": False, "to_first": "—",
                         "to_delivery": "—", "to_ack": "—", "ack_by": name, "channels": "—",
                         "failed_channels": "", "steps": "0", "steps_detail": "",
                         "needs": name, "needs_met": "—", "remarks": [name], "late": [name],
                         "open": []}],
        "incident_tasks": [], "generated": "x", "reach_svg": None, "swimlane_svgs": [],
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_html_report_escapes_hostile_names(text: str) -> None:
    html = "".join(render_chunks("evaluation.html.j2", _view(text)))
    assert "<script>alert" not in html and "\x1b" not in html and "\u202e" not in html
    assert 'src="http' not in html and "href=" not in html


def test_pdf_of_hostile_and_huge_names_is_laid_out_without_fetching(tmp_path) -> None:
    name = " ".join(HOSTILE) + " " + "x" * 5000 + " <img src='http://127.0.0.1:9/x.png'>"
    target = tmp_path / "x.pdf"
    with target.open("wb") as stream:
        write_pdf("evaluation.html.j2", _view(name), stream)
    assert target.read_bytes().startswith(b"%PDF-")


def test_script_values_are_isolated_segments() -> None:
    lines = script_lines("ar", {"municipality": "\u202eX", "title": "<b>t</b>",
                                "community": "C", "liaison": None})
    values = [text for line in lines for text, isolated in line if isolated]
    assert values == ["\u202eX", "<b>t</b>", "C"]  # escaped and cleaned by the template
    assert len(lines) == 5  # the liaison line is left out without a liaison


def test_period_dates_refused_with_the_option_named() -> None:
    from engine.errors import InputError
    from engine.reports.period import parse_day, period_bounds

    with pytest.raises(InputError, match="--from '2026-13-01': not a date"):
        parse_day("2026-13-01", "--from")
    with pytest.raises(InputError, match="before --from"):
        period_bounds(datetime(2026, 2, 1, tzinfo=UTC).date(),
                      datetime(2026, 1, 1, tzinfo=UTC).date(), "Europe/Amsterdam")
