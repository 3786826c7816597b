"""The dashboard's words: both languages say everything the templates ask for; local times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.web.dashboard.render import local_time
from engine.web.dashboard.words import WORDS, choose_language

TEMPLATES = Path(__file__).resolve().parents[2] / "engine" / "web" / "dashboard" / "templates"


def test_both_languages_have_the_same_words() -> None:
    assert set(WORDS["nl"]) == set(WORDS["en"])


def test_every_word_a_template_asks_for_exists() -> None:
    asked = set()
    for template in TEMPLATES.glob("*.html"):
        asked |= set(re.findall(r"""\bt\(\s*["']([a-z_]+)["']\s*\)""", template.read_text()))
    roles = {f"role_{r}" for r in ("coordinator", "liaison", "oncall", "viewer")}
    statuses = {f"status_{s}" for s in ("open", "closed", "acknowledged")}
    assert asked and (asked | roles | statuses) - set(WORDS["nl"]) == set()


def test_the_language_is_the_switch_then_the_browser_then_dutch() -> None:
    assert choose_language("en", "nl-NL") == "en"
    assert choose_language(None, "de-DE,en-GB;q=0.8") == "en"
    assert choose_language("fr", "fr-FR") == "nl"
    assert choose_language(None, None) == "nl"


def test_local_times_follow_the_zone_across_the_clock_change() -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    assert local_time("2027-03-28T00:30:00Z", zone, "nl") == "28 mrt 2027 01:30"
    assert local_time(datetime(2027, 3, 28, 1, 30, tzinfo=UTC), zone, "en") == \
        "28 Mar 2027 03:30"
    assert local_time(None, zone, "nl") == ""
