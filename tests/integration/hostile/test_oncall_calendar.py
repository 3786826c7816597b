"""Hostile roster calendars: runaway rules, absurd names and zones are refused, named and
bounded, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.errors import InputError
from engine.oncall.importer import import_rosters
from engine.store.db import session_scope
from engine.store.models import Shift, Staff


@pytest.fixture
def db(sqlite_engine: Engine) -> Engine:
    """A SQLite database with one on-call staff member."""
    with session_scope(sqlite_engine) as session:
        session.add(Staff(id="st-a", name="Anna A", email="a@example.org", roles=["oncall"]))
    return sqlite_engine


def problems_of(engine: Engine, tmp_path: Path, event: str, head: str = "",
                **options: object) -> list[str]:
    """The problems of a refused one-event calendar; nothing may be stored."""
    path = tmp_path / "hostile.ics"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//x//EN", *head.splitlines(),
             "BEGIN:VEVENT", *event.strip().splitlines(), "END:VEVENT", "END:VCALENDAR"]
    path.write_bytes(("\r\n".join(line.strip() for line in lines) + "\r\n").encode("utf-8"))
    with pytest.raises(InputError) as caught, session_scope(engine) as session:
        import_rosters(session, [path], **options)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Shift.__table__)).scalar() == 0
    return caught.value.problems


@pytest.mark.parametrize("rule", [
    "FREQ=SECONDLY",
    "FREQ=MINUTELY;INTERVAL=5",
    "FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50",
    "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,30",
])
def test_rules_that_recur_more_than_hourly_are_refused_before_expansion(
    db: Engine, tmp_path: Path, rule: str
):
    problems = problems_of(db, tmp_path, f"""
        UID:flood
        DTSTART:20260105T080000Z
        DURATION:PT1M
        RRULE:{rule}
        SUMMARY:st-a""")
    assert problems == [f"{tmp_path / 'hostile.ics'}:flood: RRULE: more than 24 occurrences a day"
                        " is not a roster / meer dan 24 keer per dag is geen rooster"]


def test_a_rule_that_starts_ages_before_the_window_is_refused(db: Engine, tmp_path: Path):
    problems = problems_of(db, tmp_path, """
        UID:ancient
        DTSTART:19000101T080000Z
        DURATION:PT30M
        RRULE:FREQ=HOURLY
        SUMMARY:st-a""", replace_from=datetime(2199, 1, 1, tzinfo=UTC))
    assert problems == [
        f"{tmp_path / 'hostile.ics'}:ancient: RRULE: starts too long before the window for its"
        " frequency; move DTSTART closer / begint te lang voor het venster, verplaats DTSTART"
    ]


def test_more_than_5000_occurrences_in_the_window_are_refused(db: Engine, tmp_path: Path):
    problems = problems_of(db, tmp_path, """
        UID:hourly
        DTSTART:20260105T080000Z
        DURATION:PT30M
        RRULE:FREQ=HOURLY
        SUMMARY:st-a""", replace_until=datetime(2027, 1, 1, tzinfo=UTC))
    assert problems == [f"{tmp_path / 'hostile.ics'}:hourly: RRULE: more than 5000 occurrences"
                        " in the window / te veel herhalingen"]


@pytest.mark.parametrize("zone", ["../../../../etc/passwd", "Mars/Olympus" * 500, ""])
def test_a_hostile_x_wr_timezone_is_refused_and_bounded(db: Engine, tmp_path: Path, zone: str):
    problems = problems_of(db, tmp_path, """
        UID:x
        DTSTART:20260105T080000
        DURATION:PT8H
        SUMMARY:st-a""", head=f"X-WR-TIMEZONE:{zone}")
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'hostile.ics'}: X-WR-TIMEZONE: unknown time zone")
    assert len(problems[0]) < 300


def test_a_hostile_uid_is_shown_without_control_characters_and_bounded(
    db: Engine, tmp_path: Path
):
    uid = "\x1b]8;;http://evil.example\x07klik\x1b]8;;\x07" + "A" * 5000
    problems = problems_of(db, tmp_path, f"""
        UID:{uid}
        DTSTART;TZID=Mars/Olympus:20260105T080000
        DURATION:PT8H
        SUMMARY:st-a""")
    assert problems == [
        f"{tmp_path / 'hostile.ics'}:?]8;;http://evil.example?klik?]8;;?{'A' * 45}...: DTSTART:"
        " unknown TZID 'Mars/Olympus' / onbekende tijdzone"
    ]


def test_an_absurd_tzid_refuses_the_file_with_a_bounded_message(db: Engine, tmp_path: Path):
    problems = problems_of(db, tmp_path, f"""
        UID:x
        DTSTART;TZID={"Z" * 5000}:20260105T080000
        DURATION:PT8H
        SUMMARY:st-a""")
    assert len(problems) == 1
    assert problems[0].startswith(str(tmp_path / "hostile.ics"))
    assert len(problems[0]) < 400


def test_a_hostile_staff_id_is_bounded_in_the_message(db: Engine, tmp_path: Path):
    problems = problems_of(db, tmp_path, f"""
        UID:x
        DTSTART:20260105T080000Z
        DURATION:PT8H
        X-VERBINDER-STAFF:{"st-" * 4000}""")
    assert len(problems) == 1 and len(problems[0]) < 400
    assert "X-VERBINDER-STAFF: unknown staff id" in problems[0]


@pytest.mark.parametrize(("times", "problem"), [
    ("DTSTART:00010101T000000\nDTEND:00010101T010000", "DTSTART: year 1 outside 1900-2200"),
    ("DTSTART;TZID=Pacific/Kiritimati:99991231T230000\nDURATION:PT1H",
     "DTSTART: year 9999 outside 1900-2200"),
    ("DTSTART:20260105T080000Z\nDURATION:PT1H\nRDATE:00010101T000000Z",
     "RDATE: year 1 outside 1900-2200"),
    ("DTSTART:20260105T080000Z\nDURATION:PT1H\nEXDATE;TZID=Asia/Tokyo:00010101T000000",
     "EXDATE: year 1 outside 1900-2200"),
])
def test_times_beyond_the_years_of_a_roster_are_refused(
    db: Engine, tmp_path: Path, times: str, problem: str
):
    problems = problems_of(db, tmp_path, f"UID:far\n{times}\nSUMMARY:st-a")
    assert problems == [f"{tmp_path / 'hostile.ics'}:far: {problem} / jaar buiten 1900-2200"]


def test_an_until_of_year_9999_means_no_end(db: Engine, tmp_path: Path):
    path = tmp_path / "forever.ics"
    path.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\nBEGIN:VEVENT\r\nUID:f\r\n"
        b"DTSTART;TZID=America/New_York:20260105T080000\r\nDURATION:PT8H\r\n"
        b"RRULE:FREQ=WEEKLY;UNTIL=99991231T235959\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n")
    with session_scope(db) as session:
        [report] = import_rosters(session, [path])
    assert report.shifts == 13  # the 90-day window ends it


@pytest.mark.parametrize("option", ["replace_from", "replace_until"])
def test_a_window_beyond_the_years_of_a_roster_is_refused(
    db: Engine, tmp_path: Path, option: str
):
    path = tmp_path / "r.csv"
    path.write_text("staff,start,end\nst-a,2026-11-23 08:00,2026-11-30 08:00\n")
    far = datetime(9999, 12, 31, 23, tzinfo=UTC) if option == "replace_until" else datetime(
        1, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError) as caught, session_scope(db) as session:
        import_rosters(session, [path], **{option: far})
    flag = "--until" if option == "replace_until" else "--from"
    assert caught.value.problems == [
        f"{flag}: year {far.year} outside 1900-2200 / jaar buiten 1900-2200"]


@pytest.mark.parametrize("text", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-05:00"])
def test_csv_times_beyond_the_years_of_a_roster_are_refused(
    db: Engine, tmp_path: Path, text: str
):
    path = tmp_path / "r.csv"
    path.write_text(f"staff,start,end\nst-a,{text},2026-11-30 08:00\n")
    with pytest.raises(InputError) as caught, session_scope(db) as session:
        import_rosters(session, [path])
    assert caught.value.problems[0].startswith(f"{path}:2: start: {text!r}: year ")
