"""Rosters as real calendar programs write them: Outlook, Google, Thunderbird, Nextcloud (CalDAV).

The calendars in tests/fixtures/oncall/calendars/ were written for the project in each program's
shape (its PRODID, VTIMEZONE, folding, UIDs, SEQUENCE habits, overrides, all-day events and
cancellations); the people are fictional. Each file's expected shifts are worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.oncall.importer import import_rosters
from engine.oncall.queries import on_call_at
from engine.store.db import session_scope
from engine.store.models import Shift, Staff

CALENDARS = Path(__file__).resolve().parent.parent / "fixtures" / "oncall" / "calendars"
FILES = ("outlook.ics", "google.ics", "thunderbird.ics", "nextcloud.ics")


def z(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


EXPECTED = {
    "ics:outlook.ics": sorted([
        # Fortnightly weeks from Monday 08:00 local; the third one starts after the DST change.
        ("st-dijkstra", z(3, 2, 7), z(3, 9, 7)),
        ("st-dijkstra", z(3, 16, 7), z(3, 23, 7)),
        ("st-dijkstra", z(3, 30, 6), z(4, 6, 6)),
        ("st-vos", z(3, 9, 7), z(3, 16, 7)),
        ("st-vos", z(3, 23, 9), z(3, 30, 6)),  # override: handover at 10:00, ends 08:00 CEST
        ("st-vos", z(4, 6, 6), z(4, 13, 6)),
        # All-day weekends from Saturday; 14 March by a date-time EXDATE, 21 March moved
        # to Friday-Sunday by a date-time RECURRENCE-ID; the 28th ends in summer time.
        ("st-bakker", z(3, 6, 23), z(3, 8, 23)),
        ("st-bakker", z(3, 19, 23), z(3, 21, 23)),
        ("st-bakker", z(3, 27, 23), z(3, 29, 22)),
        ("st-yilmaz", z(3, 10, 17), z(3, 10, 21)),  # ATTENDEE email in another case
        # The cancelled extra shift of 12 March is absent.
    ]),
    "ics:google.ics": sorted([
        # Monday-Thursday nights; Wednesday 25 March is an EXDATE, Tuesday 31 March an
        # override (SEQUENCE 1) held by someone else; UNTIL keeps Thursday 2 April.
        ("st-vos", z(3, 23, 19), z(3, 24, 7)),
        ("st-vos", z(3, 24, 19), z(3, 25, 7)),
        ("st-vos", z(3, 26, 19), z(3, 27, 7)),
        ("st-vos", z(3, 30, 18), z(3, 31, 6)),
        ("st-yilmaz", z(3, 31, 18), z(4, 1, 6)),
        ("st-vos", z(4, 1, 18), z(4, 2, 6)),
        ("st-vos", z(4, 2, 18), z(4, 3, 6)),
        # Saturdays written in UTC with X-WR-TIMEZONE: 10:00 local before and after DST.
        ("st-bakker", z(3, 21, 9), z(3, 21, 17)),
        ("st-bakker", z(3, 28, 9), z(3, 28, 17)),
        ("st-bakker", z(4, 4, 8), z(4, 4, 16)),
        ("st-dijkstra", z(3, 25, 12), z(3, 25, 16)),
        # The cancelled extra day of 27 March is absent.
    ]),
    "ics:thunderbird.ics": sorted([
        # Daily day shifts (SUMMARY = staff id); Wednesday overridden with a higher SEQUENCE.
        ("st-dijkstra", z(4, 6, 6), z(4, 6, 15)),
        ("st-dijkstra", z(4, 7, 6), z(4, 7, 15)),
        ("st-vos", z(4, 8, 10), z(4, 8, 15)),
        ("st-dijkstra", z(4, 9, 6), z(4, 9, 15)),
        ("st-dijkstra", z(4, 10, 6), z(4, 10, 15)),
        # Two versions of one night (SEQUENCE 0 and 1): only the newest is imported.
        ("st-yilmaz", z(4, 11, 18), z(4, 12, 6)),
    ]),
    "ics:nextcloud.ics": sorted([
        # Weekends Friday 17:00 - Monday 08:00; from 1 May (RANGE=THISANDFUTURE) from 18:00,
        # held by someone else.
        ("st-bakker", z(4, 17, 15), z(4, 20, 6)),
        ("st-bakker", z(4, 24, 15), z(4, 27, 6)),
        ("st-yilmaz", z(5, 1, 16), z(5, 4, 6)),
        ("st-yilmaz", z(5, 8, 16), z(5, 11, 6)),
        # DURATION, and an RDATE period of its own length.
        ("st-dijkstra", z(4, 22, 7), z(4, 22, 15)),
        ("st-dijkstra", z(4, 29, 7), z(4, 29, 11)),
        ("st-dijkstra", z(4, 26, 22), z(4, 27, 22)),  # all-day, King's Day
        # Weekly training by ORGANIZER email; 28 April cancelled by an override.
        ("st-vos", z(4, 21, 17), z(4, 21, 19)),
        ("st-vos", z(5, 5, 17), z(5, 5, 19)),
    ]),
}


def add_staff(engine: Engine) -> None:
    """The fictional crisis team of these calendars."""
    with session_scope(engine) as session:
        session.add_all([
            Staff(id="st-dijkstra", name="Fatima Dijkstra", email="f.dijkstra@example.org",
                  roles=["oncall"]),
            Staff(id="st-vos", name="Joris Vos", email="j.vos@example.org",
                  roles=["oncall", "liaison"]),
            Staff(id="st-yilmaz", name="Elif Yılmaz", email="e.yilmaz@example.org",
                  roles=["oncall"]),
            Staff(id="st-bakker", name="Noor Bakker", email="n.bakker@example.org",
                  roles=["oncall", "coordinator"]),
            Staff(id="st-planning", name="Planning", email="planning@example.org",
                  roles=["coordinator"]),
        ])


def stored(engine: Engine) -> dict[str, list[tuple[str, datetime, datetime]]]:
    """Stored shifts by source, sorted."""
    t = Shift.__table__
    found: dict[str, list[tuple[str, datetime, datetime]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(t.c.source, t.c.staff_id, t.c.starts_at, t.c.ends_at)):
            found.setdefault(r.source, []).append((r.staff_id, r.starts_at, r.ends_at))
    return {source: sorted(rows) for source, rows in found.items()}


def test_real_shaped_calendars_import_as_their_programs_show_them(sqlite_engine: Engine):
    add_staff(sqlite_engine)
    paths = [CALENDARS / name for name in FILES]
    with session_scope(sqlite_engine) as session:
        reports = import_rosters(session, paths)
    assert stored(sqlite_engine) == EXPECTED
    assert [r.warnings for r in reports] == [[], [], [], []]
    with session_scope(sqlite_engine) as session:
        again = import_rosters(session, paths)
    assert [(r.added, r.removed, r.unchanged) for r in again] == [
        (0, 0, len(EXPECTED[r.source])) for r in again
    ]
    with sqlite_engine.connect() as conn:
        # Tuesday 31 March, 23:00 local: the swapped Google night and Outlook's week.
        night = [p.id for p in on_call_at(conn, z(3, 31, 21))]
    assert night == ["st-dijkstra", "st-yilmaz"]
