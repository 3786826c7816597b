"""iCalendar cases that a roster import must read as RFC 5545 (and the peers' code) do.

Each case has a small calendar of its own. Staff: st-a, st-b and st-c are on call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.errors import InputError
from engine.oncall.importer import import_rosters
from engine.oncall.model import RosterReport
from engine.store.db import session_scope
from engine.store.models import Shift, Staff


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def db(sqlite_engine: Engine) -> Engine:
    """A SQLite database with three on-call staff members."""
    with session_scope(sqlite_engine) as session:
        session.add_all([
            Staff(id="st-a", name="Anna A", email="a@example.org", roles=["oncall"]),
            Staff(id="st-b", name="Bram B", email="b@example.org", roles=["oncall"]),
            Staff(id="st-c", name="Cor C", email="c@example.org", roles=["oncall"]),
        ])
    return sqlite_engine


def calendar(*events: str, head: str = "") -> str:
    """A VCALENDAR around these VEVENT bodies; every line stripped, joined with CRLF."""
    body = "".join(f"BEGIN:VEVENT\n{e}\nEND:VEVENT\n" for e in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Verbinder tests//EN\n{head}\n{body}"
    lines = [line.strip() for line in f"{text}END:VCALENDAR".splitlines() if line.strip()]
    return "\r\n".join(lines) + "\r\n"


def run(engine: Engine, tmp_path: Path, text: str, **options: object) -> RosterReport:
    """Import one calendar in one transaction, as the command does."""
    path = tmp_path / "case.ics"
    path.write_bytes(text.encode("utf-8"))
    with session_scope(engine) as session:
        return import_rosters(session, [path], **options)[0]


def refused(engine: Engine, tmp_path: Path, text: str) -> list[str]:
    """The problems of a calendar that must be refused; nothing is stored."""
    with pytest.raises(InputError) as caught:
        run(engine, tmp_path, text)
    assert shifts(engine) == []
    return caught.value.problems


def shifts(engine: Engine) -> list[tuple[str, datetime, datetime]]:
    """Every stored shift, ordered by start."""
    t = Shift.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.staff_id, t.c.starts_at, t.c.ends_at)
                            .order_by(t.c.starts_at, t.c.staff_id))
        return [(r.staff_id, r.starts_at, r.ends_at) for r in rows]


# --- RECURRENCE-ID;RANGE=THISANDFUTURE ------------------------------------------------------


def test_thisandfuture_override_moves_and_restaffs_the_rest_of_the_series(
    db: Engine, tmp_path: Path
):
    run(db, tmp_path, calendar(
        """UID:week
            DTSTART;TZID=Europe/Amsterdam:20260105T080000
            DTEND;TZID=Europe/Amsterdam:20260105T160000
            RRULE:FREQ=WEEKLY;COUNT=5
            X-VERBINDER-STAFF:st-a""",
        # From the third Monday on: two hours later, eight hours long, held by st-b.
        """UID:week
            RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Amsterdam:20260119T080000
            DTSTART;TZID=Europe/Amsterdam:20260119T100000
            DTEND;TZID=Europe/Amsterdam:20260119T180000
            SEQUENCE:1
            X-VERBINDER-STAFF:st-b""",
    ))
    assert shifts(db) == [
        ("st-a", utc(2026, 1, 5, 7), utc(2026, 1, 5, 15)),
        ("st-a", utc(2026, 1, 12, 7), utc(2026, 1, 12, 15)),
        ("st-b", utc(2026, 1, 19, 9), utc(2026, 1, 19, 17)),
        ("st-b", utc(2026, 1, 26, 9), utc(2026, 1, 26, 17)),
        ("st-b", utc(2026, 2, 2, 9), utc(2026, 2, 2, 17)),
    ]


def test_only_thisandfuture_is_a_known_range(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(
        """UID:week
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RRULE:FREQ=WEEKLY;COUNT=5
            SUMMARY:st-a""",
        """UID:week
            RECURRENCE-ID;RANGE=THISANDPRIOR:20260119T080000Z
            DTSTART:20260119T100000Z
            DTEND:20260119T180000Z
            SUMMARY:st-b""",
    ))
    assert problems == [
        f"{tmp_path / 'case.ics'}:week: RECURRENCE-ID: RANGE=THISANDPRIOR is not supported,"
        " only THISANDFUTURE / alleen THISANDFUTURE"
    ]


# --- RDATE;VALUE=PERIOD ---------------------------------------------------------------------


def test_rdate_period_keeps_its_own_length(db: Engine, tmp_path: Path):
    run(db, tmp_path, calendar(
        """UID:day
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RDATE;VALUE=PERIOD:20260106T080000Z/PT2H,20260107T090000Z/20260107T120000Z
            RDATE:20260108T080000Z
            SUMMARY:st-a""",
    ))
    assert shifts(db) == [
        ("st-a", utc(2026, 1, 5, 8), utc(2026, 1, 5, 16)),
        ("st-a", utc(2026, 1, 6, 8), utc(2026, 1, 6, 10)),  # PT2H, not DTEND's 8 hours
        ("st-a", utc(2026, 1, 7, 9), utc(2026, 1, 7, 12)),  # its own end
        ("st-a", utc(2026, 1, 8, 8), utc(2026, 1, 8, 16)),  # a plain RDATE: DTEND's length
    ]


def test_rdate_period_that_ends_before_it_starts_is_refused(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(
        """UID:day
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RDATE;VALUE=PERIOD:20260106T080000Z/20260106T070000Z
            SUMMARY:st-a""",
    ))
    assert problems == [f"{tmp_path / 'case.ics'}:day: RDATE: end is before start"
                        " / einde ligt voor begin"]


# --- one UID, several versions (SEQUENCE) ---------------------------------------------------


@pytest.mark.parametrize("newest_first", [True, False])
def test_the_newest_sequence_of_a_series_wins(db: Engine, tmp_path: Path, newest_first: bool):
    old = """UID:night
            SEQUENCE:0
            DTSTART;TZID=Europe/Amsterdam:20260105T200000
            DTEND;TZID=Europe/Amsterdam:20260106T080000
            RRULE:FREQ=DAILY;COUNT=2
            X-VERBINDER-STAFF:st-a"""
    new = """UID:night
            SEQUENCE:1
            DTSTART;TZID=Europe/Amsterdam:20260105T200000
            DTEND;TZID=Europe/Amsterdam:20260106T080000
            RRULE:FREQ=DAILY;COUNT=2
            X-VERBINDER-STAFF:st-b"""
    run(db, tmp_path, calendar(*((new, old) if newest_first else (old, new))))
    assert shifts(db) == [
        ("st-b", utc(2026, 1, 5, 19), utc(2026, 1, 6, 7)),
        ("st-b", utc(2026, 1, 6, 19), utc(2026, 1, 7, 7)),
    ]


SERIES = """UID:day
            SEQUENCE:{seq}
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RRULE:FREQ=DAILY;COUNT=3{extra}
            SUMMARY:st-a"""
OVERRIDE = """UID:day
            SEQUENCE:{seq}
            RECURRENCE-ID:20260106T080000Z
            DTSTART:20260106T100000Z
            DTEND:20260106T180000Z
            SUMMARY:{who}"""


def test_a_duplicated_override_imports_once(db: Engine, tmp_path: Path):
    run(db, tmp_path, calendar(
        SERIES.format(seq=0, extra=""),
        OVERRIDE.format(seq=0, who="st-b"),
        OVERRIDE.format(seq=0, who="st-b").replace("SEQUENCE:0", "DTSTAMP:20260101T000000Z\r\n"
                                                   "            SEQUENCE:0"),
    ))
    assert shifts(db) == [
        ("st-a", utc(2026, 1, 5, 8), utc(2026, 1, 5, 16)),
        ("st-b", utc(2026, 1, 6, 10), utc(2026, 1, 6, 18)),
        ("st-a", utc(2026, 1, 7, 8), utc(2026, 1, 7, 16)),
    ]


@pytest.mark.parametrize(("newest_series", "days"), [
    # The newest series deletes Tuesday 6 January ...
    (SERIES.format(seq=1, extra="\nEXDATE:20260106T080000Z"), [5, 7]),
    # ... or no longer has it: Mondays and Wednesdays only.
    (SERIES.format(seq=1, extra=";BYDAY=MO,WE"), [5, 7, 12]),
])
def test_an_override_that_the_newest_series_deleted_is_left_out(
    db: Engine, tmp_path: Path, newest_series: str, days: list[int]
):
    run(db, tmp_path, calendar(newest_series, OVERRIDE.format(seq=0, who="st-b")))
    assert [(who, start.day) for who, start, _ in shifts(db)] == [("st-a", d) for d in days]


def test_an_older_override_of_an_instance_the_series_still_has_stays(
    db: Engine, tmp_path: Path
):
    run(db, tmp_path, calendar(SERIES.format(seq=1, extra=""), OVERRIDE.format(seq=0, who="st-b")))
    assert [(who, start.day) for who, start, _ in shifts(db)] == [
        ("st-a", 5), ("st-b", 6), ("st-a", 7),
    ]


@pytest.mark.parametrize(("events", "which"), [
    ((SERIES.format(seq=2, extra=""), SERIES.format(seq=2, extra=";INTERVAL=2")), ""),
    ((SERIES.format(seq=0, extra=""), OVERRIDE.format(seq=3, who="st-b"),
      OVERRIDE.format(seq=3, who="st-c")), " for RECURRENCE-ID 2026-01-06 08:00:00"),
])
def test_two_different_versions_with_the_same_sequence_are_refused(
    db: Engine, tmp_path: Path, events: tuple[str, ...], which: str
):
    problems = refused(db, tmp_path, calendar(*events))
    seq = 2 if not which else 3
    assert problems == [
        f"{tmp_path / 'case.ics'}:day: 2 different versions with SEQUENCE {seq}{which}; keep one,"
        " or give the newest a higher SEQUENCE / verschillende versies met hetzelfde SEQUENCE"
    ]


# --- Outlook: a date-time RECURRENCE-ID in an all-day series --------------------------------

LONDON_ZONE = """BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""
OUTLOOK_ZONE = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""


@pytest.mark.parametrize("recurrence_id", [
    # An Outlook in London names the day by its own midnight: 00:00 UTC, 01:00 in Amsterdam.
    "RECURRENCE-ID;TZID=GMT Standard Time:20260107T000000",
    "RECURRENCE-ID;TZID=W. Europe Standard Time:20260107T000000",
    "RECURRENCE-ID:20260107T000000",
    "RECURRENCE-ID:20260106T230000Z",
])
def test_outlook_date_time_recurrence_id_moves_a_day_of_an_all_day_series(
    db: Engine, tmp_path: Path, recurrence_id: str
):
    run(db, tmp_path, calendar(
        """UID:040000008200E00074C5B7101A82E008
            DTSTART;VALUE=DATE:20260105
            DTEND;VALUE=DATE:20260106
            RRULE:FREQ=DAILY;COUNT=4
            X-MICROSOFT-CDO-ALLDAYEVENT:TRUE
            ATTENDEE;CN=Anna A:mailto:a@example.org""",
        f"""UID:040000008200E00074C5B7101A82E008
            {recurrence_id}
            DTSTART;VALUE=DATE:20260110
            DTEND;VALUE=DATE:20260111
            X-MICROSOFT-CDO-ALLDAYEVENT:TRUE
            ATTENDEE;CN=Bram B:mailto:b@example.org""",
        head=OUTLOOK_ZONE + LONDON_ZONE,
    ))
    days = [(who, start.astimezone(UTC).date().isoformat()) for who, start, _ in shifts(db)]
    # All-day shifts run from local midnight: 23:00 UTC the evening before in winter.
    assert days == [("st-a", "2026-01-04"), ("st-a", "2026-01-05"), ("st-a", "2026-01-07"),
                    ("st-b", "2026-01-09")]


# --- COUNT, zero length ---------------------------------------------------------------------


@pytest.mark.parametrize("count", ["-1", "0"])
def test_a_count_below_one_is_refused(db: Engine, tmp_path: Path, count: str):
    problems = refused(db, tmp_path, calendar(
        f"""UID:bad-count
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RRULE:FREQ=DAILY;COUNT={count}
            SUMMARY:st-a"""
    ))
    assert problems == [f"{tmp_path / 'case.ics'}:bad-count: RRULE: COUNT={count} is not a"
                        " positive number / COUNT moet positief zijn"]


def test_an_unknown_rule_part_is_named(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(
        """UID:typo
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RRULE:FREQ=WEEKLY;BYDAY=TH;UNTL=20260301
            SUMMARY:st-a"""
    ))
    assert problems == [f"{tmp_path / 'case.ics'}:typo: RRULE: unknown part UNTL"
                        " / onbekend onderdeel"]


@pytest.mark.parametrize(("times", "message"), [
    ("DTSTART:20260105T080000Z\nDTEND:20260105T080000Z",
     "DTEND: zero-length event: end equals start / nul lengte: einde is gelijk aan begin"),
    ("DTSTART:20260105T080000Z\nDURATION:PT0S",
     "DURATION: zero-length event: end equals start / nul lengte: einde is gelijk aan begin"),
    ("DTSTART:20260105T080000Z",
     "DTEND: missing, so the event has zero length; give DTEND or DURATION"
     " / ontbreekt: dienst zonder lengte"),
    ("DTSTART:20260105T080000Z\nDTEND:20260105T070000Z",
     "DTEND: end is before start / einde ligt voor begin"),
])
def test_zero_length_and_reversed_events_say_what_they_are(
    db: Engine, tmp_path: Path, times: str, message: str
):
    problems = refused(db, tmp_path, calendar(f"UID:ev\n{times}\r\n"
                                              "            SUMMARY:st-a"))
    assert problems == [f"{tmp_path / 'case.ics'}:ev: {message}"]


# --- local times that a DST change skips or repeats -----------------------------------------

NIGHTS = """UID:early
            DTSTART{zone}:20260327T023000
            DTEND{zone}:20260327T040000
            RRULE:FREQ=DAILY;COUNT=3
            SUMMARY:st-a"""


@pytest.mark.parametrize("head", ["", OUTLOOK_ZONE])
def test_a_skipped_time_with_a_tzid_moves_forward_with_a_warning(
    db: Engine, tmp_path: Path, head: str
):
    zone = ";TZID=W. Europe Standard Time" if head else ";TZID=Europe/Amsterdam"
    report = run(db, tmp_path, calendar(NIGHTS.format(zone=zone), head=head))
    assert shifts(db) == [
        ("st-a", utc(2026, 3, 27, 1, 30), utc(2026, 3, 27, 3)),
        ("st-a", utc(2026, 3, 28, 1, 30), utc(2026, 3, 28, 3)),
        # 02:30 does not exist on 29 March: read as 03:30 CEST, until 04:00 CEST.
        ("st-a", utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2)),
    ]
    zone_name = "W. Europe Standard Time" if head else "Europe/Amsterdam"
    assert report.warnings == [
        f"{tmp_path / 'case.ics'}:early: 2026-03-29 02:30 does not exist in {zone_name}"
        " (clocks go forward); read as RFC 5545 says: a skipped time moves forward by the gap,"
        " a repeated time is the first / bestaat niet (zomertijd), gelezen volgens RFC 5545"
    ]


def test_a_repeated_time_with_a_tzid_is_the_first_with_a_warning(db: Engine, tmp_path: Path):
    report = run(db, tmp_path, calendar(
        """UID:late
            DTSTART;TZID=Europe/Amsterdam:20261025T023000
            DTEND;TZID=Europe/Amsterdam:20261025T040000
            SUMMARY:st-a"""
    ))
    # 02:30 CEST (the first time), until 04:00 CET.
    assert shifts(db) == [("st-a", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3))]
    assert "2026-10-25 02:30 occurs twice in Europe/Amsterdam" in report.warnings[0]


def test_a_floating_time_that_a_dst_change_skips_is_refused(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(NIGHTS.format(zone="")))
    assert problems == [
        f"{tmp_path / 'case.ics'}:early: DTSTART: 2026-03-29 02:30 does not exist in"
        " Europe/Amsterdam (clocks go forward); give a TZID or a UTC time / bestaat niet"
        " (zomertijd), geef een TZID of een UTC-tijd"
    ]


def test_a_floating_time_that_a_dst_change_repeats_is_refused(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(
        """UID:late
            DTSTART:20261025T010000
            DTEND:20261025T023000
            SUMMARY:st-a"""
    ))
    assert problems[0].startswith(
        f"{tmp_path / 'case.ics'}:late: DTEND: 2026-10-25 02:30 occurs twice in Europe/Amsterdam"
    )


# --- X-WR-TIMEZONE --------------------------------------------------------------------------


def test_x_wr_timezone_is_the_zone_of_floating_times(db: Engine, tmp_path: Path):
    run(db, tmp_path, calendar(
        """UID:london
            DTSTART:20260706T080000
            DTEND:20260706T160000
            SUMMARY:st-a""",
        head="X-WR-TIMEZONE:Europe/London",
    ))
    assert shifts(db) == [("st-a", utc(2026, 7, 6, 7), utc(2026, 7, 6, 15))]  # BST


@pytest.mark.parametrize(("head", "after_dst"), [
    # Google's meaning: the series was made at 09:00 local time and keeps it.
    ("X-WR-TIMEZONE:Europe/Amsterdam", utc(2026, 4, 2, 7)),
    # Without X-WR-TIMEZONE a UTC series recurs in UTC (RFC 5545).
    ("", utc(2026, 4, 2, 8)),
])
def test_x_wr_timezone_keeps_the_local_hour_of_a_series_written_in_utc(
    db: Engine, tmp_path: Path, head: str, after_dst: datetime
):
    run(db, tmp_path, calendar(
        """UID:weekly
            DTSTART:20260326T080000Z
            DTEND:20260326T160000Z
            RRULE:FREQ=WEEKLY;COUNT=2
            SUMMARY:st-a""",
        head=head,
    ))
    assert [start for _, start, _ in shifts(db)] == [utc(2026, 3, 26, 8), after_dst]


def test_an_unknown_x_wr_timezone_is_refused(db: Engine, tmp_path: Path):
    problems = refused(db, tmp_path, calendar(
        "UID:x\nDTSTART:20260706T080000\nDURATION:PT8H\r\n"
        "            SUMMARY:st-a",
        head="X-WR-TIMEZONE:Mars/Olympus",
    ))
    assert problems == [f"{tmp_path / 'case.ics'}: X-WR-TIMEZONE: unknown time zone"
                        " 'Mars/Olympus' / onbekende tijdzone"]


# --- STATUS:CANCELLED -----------------------------------------------------------------------


def test_cancelled_events_instances_and_series_are_left_out(db: Engine, tmp_path: Path):
    report = run(db, tmp_path, calendar(
        """UID:single
            STATUS:CANCELLED
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            SUMMARY:st-a""",
        """UID:series
            DTSTART:20260105T080000Z
            DTEND:20260105T160000Z
            RRULE:FREQ=DAILY;COUNT=4
            SUMMARY:st-b""",
        """UID:series
            RECURRENCE-ID:20260106T080000Z
            STATUS:CANCELLED
            DTSTART:20260106T080000Z
            DTEND:20260106T160000Z""",
        """UID:series
            RECURRENCE-ID;RANGE=THISANDFUTURE:20260108T080000Z
            STATUS:CANCELLED
            DTSTART:20260108T080000Z
            DTEND:20260108T160000Z""",
        """UID:gone
            STATUS:CANCELLED
            DTSTART:20260105T200000Z
            DTEND:20260106T080000Z
            RRULE:FREQ=DAILY;COUNT=4
            SUMMARY:nobody known""",
    ))
    assert shifts(db) == [
        ("st-b", utc(2026, 1, 5, 8), utc(2026, 1, 5, 16)),
        ("st-b", utc(2026, 1, 7, 8), utc(2026, 1, 7, 16)),
    ]
    assert report.shifts == 2
