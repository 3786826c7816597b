"""The on-call roster: CSV and iCalendar import, replacement rule, and who is on call."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from engine.errors import InputError
from engine.oncall.importer import import_roster, import_rosters
from engine.oncall.queries import coordinators, list_shifts, on_call_at
from engine.store.db import session_scope
from engine.store.models import Shift, Staff

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "oncall"


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def add_staff(engine: Engine) -> None:
    """Staff of these tests, inserted directly (the registry importer is not needed)."""
    people = [
        Staff(id="st-a", name="Anna A", email="a@example.org", roles=["oncall"]),
        Staff(id="st-b", name="Bram B", email="b@example.org", roles=["liaison", "oncall"]),
        Staff(id="st-c", name="Cor C", email="c@example.org", roles=["coordinator", "oncall"]),
        Staff(id="st-liaison", name="Lies L", email="l@example.org", roles=["liaison"]),
        Staff(id="st-coord", name="Coby K", phone="+31611110005", roles=["coordinator"]),
        Staff(id="st-gone", name="Gijs G", email="g@example.org", roles=["oncall"], active=False),
    ]
    with session_scope(engine) as session:
        session.add_all(people)


@pytest.fixture
def staffed(any_engine: Engine) -> Engine:
    """A database on SQLite and PostgreSQL with the test staff in it."""
    add_staff(any_engine)
    return any_engine


@pytest.fixture
def staffed_sqlite(sqlite_engine: Engine) -> Engine:
    """A SQLite database with the test staff in it (for the checks that need no PostgreSQL)."""
    add_staff(sqlite_engine)
    return sqlite_engine


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A roster file with this text."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored(engine: Engine) -> list[tuple[str, datetime, datetime, str]]:
    """Every stored shift, ordered."""
    t = Shift.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.staff_id, t.c.starts_at, t.c.ends_at, t.c.source)
            .order_by(t.c.starts_at, t.c.staff_id)
        )
        return [tuple(r) for r in rows]


def run_import(engine: Engine, *paths: Path, **options: object) -> list:
    """Import in one transaction, as the command does."""
    with session_scope(engine) as session:
        return import_rosters(session, list(paths), **options)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_import_stores_utc_for_local_and_offset_times(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "rooster.csv", (
        "staff,start,end\n"
        "st-a,2026-11-23 08:00,2026-11-30 08:00\n"
        "st-b,2026-11-30T08:00:00+01:00,2026-12-07T07:00:00Z\n"
        "\n"
        "st-c,2026-06-01 08:00,2026-06-01 20:00\n"
    ))
    [report] = run_import(staffed, path)
    assert (report.added, report.removed, report.unchanged, report.shifts) == (3, 0, 0, 3)
    assert report.source == "csv:rooster.csv"
    assert stored(staffed) == [
        ("st-c", utc(2026, 6, 1, 6), utc(2026, 6, 1, 18), "csv:rooster.csv"),  # CEST
        ("st-a", utc(2026, 11, 23, 7), utc(2026, 11, 30, 7), "csv:rooster.csv"),  # CET
        ("st-b", utc(2026, 11, 30, 7), utc(2026, 12, 7, 7), "csv:rooster.csv"),
    ]


def test_csv_with_bom_semicolons_and_dst_nights(staffed: Engine):
    run_import(staffed, FIXTURES / "dst.csv")
    shifts = {(s, a): b - a for s, a, b, _ in stored(staffed)}
    # Night of 29 March 2026: clocks jump 02:00 -> 03:00, so 20:00 -> 08:00 is 11 real hours.
    assert shifts[("st-a", utc(2026, 3, 28, 19))] == timedelta(hours=11)
    # Night of 25 October 2026: clocks go back, so 20:00 -> 08:00 is 13 real hours.
    assert shifts[("st-b", utc(2026, 10, 24, 18))] == timedelta(hours=13)
    # Offsets across the switch: 00:00Z to 06:00+02:00 (= 04:00Z) is 4 hours.
    assert shifts[("st-a", utc(2026, 3, 29, 0))] == timedelta(hours=4)


def test_every_bad_row_is_named_and_nothing_changes(staffed: Engine, tmp_path: Path):
    keep = write(tmp_path, "keep.csv", "staff,start,end\nst-c,2026-11-01 08:00,2026-11-02 08:00\n")
    run_import(staffed, keep)
    before = stored(staffed)
    bad = FIXTURES / "bad.csv"
    with pytest.raises(InputError) as caught:
        run_import(staffed, keep, bad)
    problems = caught.value.problems
    assert len(problems) == 5
    assert problems[0].startswith(f"{bad}:3: staff: unknown staff id 'st-nobody'")
    assert problems[1].startswith(f"{bad}:4: staff: staff 'st-liaison' does not have the oncall")
    assert problems[2].startswith(f"{bad}:5: end: not after start")
    assert problems[3].startswith(f"{bad}:6: start: not a time: 'maandag'")
    assert problems[4].startswith(f"{bad}:7: start: 2026-03-29 02:30 does not exist")
    assert stored(staffed) == before


def test_missing_column_and_unknown_extension_are_refused(staffed_sqlite: Engine, tmp_path: Path):
    no_end = write(tmp_path, "r.csv", "staff,start\nst-a,2026-11-23 08:00\n")
    other = write(tmp_path, "r.xlsx", "")
    with pytest.raises(InputError) as caught:
        run_import(staffed_sqlite, no_end, other)
    assert caught.value.problems[0] == f"{no_end}:1: end: missing column / kolom ontbreekt"
    assert caught.value.problems[1].startswith(f"{other}: file: not a .csv or .ics file")
    assert stored(staffed_sqlite) == []


def test_csv_delimiter_ignores_separators_inside_quotes(staffed_sqlite: Engine, tmp_path: Path):
    # The registry's reader: more commas than semicolons, but all of them inside quotes.
    path = write(tmp_path, "r.csv", (
        'staff;start;end;"opmerking (a, b, c, d)"\n'
        'st-a;2026-11-23 08:00;2026-11-30 08:00;"overdracht, bellen"\n'
    ))
    [report] = run_import(staffed_sqlite, path)
    assert report.shifts == 1
    assert stored(staffed_sqlite) == [
        ("st-a", utc(2026, 11, 23, 7), utc(2026, 11, 30, 7), "csv:r.csv"),
    ]


@pytest.mark.parametrize(("text", "problem"), [
    ("", ":1: geen kopregel / no header row"),
    ("staff,start,end,start\nst-a,2026-11-23 08:00,2026-11-30 08:00,x\n",
     ":1: start: kolom staat er twee keer / column appears twice"),
    (b"staff,start,end\nst-\xe9,2026-11-23 08:00,2026-11-30 08:00\n",
     ":2: geen geldige UTF-8; sla op als 'CSV UTF-8' / not valid UTF-8; save as 'CSV UTF-8'"),
])
def test_csv_file_problems_are_named_as_the_registry_names_them(
    staffed_sqlite: Engine, tmp_path: Path, text: str | bytes, problem: str
):
    path = tmp_path / "r.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(InputError) as caught:
        run_import(staffed_sqlite, path)
    assert caught.value.problems == [f"{path}{problem}"]
    assert stored(staffed_sqlite) == []


def test_reimport_is_idempotent_and_replaces_only_its_window(staffed: Engine, tmp_path: Path):
    text = ("staff,start,end\n"
            "st-a,2026-11-23 08:00,2026-11-30 08:00\n"
            "st-b,2026-11-30 08:00,2026-12-07 08:00\n")
    path = write(tmp_path, "week.csv", text)
    # Another source inside the window stays.
    other = write(
        tmp_path, "extra.csv", "staff,start,end\nst-c,2026-11-25 08:00,2026-11-25 20:00\n"
    )
    run_import(staffed, other, path)
    first = stored(staffed)
    [again] = run_import(staffed, path)
    assert (again.added, again.removed, again.unchanged) == (0, 0, 2)
    assert stored(staffed) == first

    path.write_text(text.replace("st-b", "st-c"), encoding="utf-8")
    [edited] = run_import(staffed, path)
    assert (edited.added, edited.removed, edited.unchanged) == (1, 1, 1)
    assert [(s, src) for s, _, _, src in stored(staffed)] == [
        ("st-a", "csv:week.csv"), ("st-c", "csv:extra.csv"), ("st-c", "csv:week.csv"),
    ]


def test_window_can_be_widened_to_clear_a_period(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "dec.csv", (
        "staff,start,end\nst-a,2026-12-01 08:00,2026-12-02 08:00\n"
        "st-b,2026-12-20 08:00,2026-12-21 08:00\n"
    ))
    run_import(staffed, path)
    path.write_text("staff,start,end\nst-a,2026-12-01 08:00,2026-12-02 08:00\n", encoding="utf-8")
    [plain] = run_import(staffed, path, dry_run=True)
    assert plain.removed == 0  # the shorter file no longer reaches 20 December
    [wide] = run_import(staffed, path, replace_until=utc(2027, 1, 1))
    assert (wide.removed, wide.unchanged) == (1, 1)
    assert [s for s, *_ in stored(staffed)] == ["st-a"]


def test_dry_run_reports_and_writes_nothing(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", "staff,start,end\nst-a,2026-11-23 08:00,2026-11-30 08:00\n")
    [report] = run_import(staffed, path, dry_run=True)
    assert (report.dry_run, report.added) == (True, 1)
    assert stored(staffed) == []


def test_same_file_name_twice_in_one_import_is_refused(staffed_sqlite: Engine, tmp_path: Path):
    one = write(tmp_path, "r.csv", "staff,start,end\nst-a,2026-11-23 08:00,2026-11-30 08:00\n")
    (tmp_path / "b").mkdir()
    two = write(tmp_path, "b/r.csv", "staff,start,end\nst-b,2026-11-23 08:00,2026-11-30 08:00\n")
    with pytest.raises(InputError):
        run_import(staffed_sqlite, one, two)
    assert stored(staffed_sqlite) == []


def test_inactive_staff_may_be_rostered_with_a_warning(staffed_sqlite: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", "staff,start,end\nst-gone,2026-11-23 08:00,2026-11-24 08:00\n")
    [report] = run_import(staffed_sqlite, path)
    assert report.added == 1
    assert "st-gone" in report.warnings[0]


# --- iCalendar ------------------------------------------------------------------------------


def test_ics_tzid_all_day_rrule_exdate_override_and_staff_lookup(staffed: Engine):
    [report] = run_import(staffed, FIXTURES / "rotation.ics")
    assert report.source == "ics:rotation.ics"
    assert stored(staffed) == [
        # RECURRENCE-ID override of the first night: st-b, from 22:00 CET.
        ("st-b", utc(2026, 3, 21, 21), utc(2026, 3, 22, 7), "ics:rotation.ics"),
        # DTSTART in UTC with DURATION; SUMMARY = staff id.
        ("st-c", utc(2026, 3, 25, 7), utc(2026, 3, 25, 17), "ics:rotation.ics"),
        # Floating time = Amsterdam; ORGANIZER email = staff email.
        ("st-c", utc(2026, 3, 26, 8), utc(2026, 3, 26, 16), "ics:rotation.ics"),
        # All-day 28-29 March: whole local days, 47 real hours; ATTENDEE email, any case.
        ("st-b", utc(2026, 3, 27, 23), utc(2026, 3, 29, 22), "ics:rotation.ics"),
        # Second weekly night across the DST switch: 20:00 CET -> 08:00 CEST, 11 hours.
        ("st-a", utc(2026, 3, 28, 19), utc(2026, 3, 29, 6), "ics:rotation.ics"),
        # The third night (4 April) is an EXDATE.
    ]
    assert report.window_from == utc(2026, 3, 21, 19)
    assert report.window_until == utc(2026, 3, 21, 19) + timedelta(days=90)


def weekly(uid: str, extra: str = "", staff: str = "X-VERBINDER-STAFF:st-a") -> str:
    """An .ics with one weekly event from Monday 23 November 2026, 08:00 Amsterdam."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTART;TZID=Europe/Amsterdam:20261123T080000\r\n"
        "DTEND;TZID=Europe/Amsterdam:20261124T080000\r\n"
        f"RRULE:FREQ=WEEKLY{extra}\r\n{staff}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_rrule_is_expanded_within_90_days_or_until(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "w.ics", weekly("w1"))
    [report] = run_import(staffed, path, dry_run=True)
    assert report.shifts == 13  # 23 Nov + 12 more weeks before 21 February 2027
    [short] = run_import(staffed, path, replace_until=utc(2026, 12, 7, 7))
    assert short.shifts == 2  # 23 and 30 November: starts before the window's end only
    assert [a for _, a, _, _ in stored(staffed)] == [utc(2026, 11, 23, 7), utc(2026, 11, 30, 7)]


def test_rrule_until_in_utc_and_as_date(staffed_sqlite: Engine, tmp_path: Path):
    in_utc = write(tmp_path, "u.ics", weekly("u", ";UNTIL=20261207T070000Z"))
    as_date = write(tmp_path, "d.ics", weekly("d", ";UNTIL=20261207"))
    reports = run_import(staffed_sqlite, in_utc, as_date, dry_run=True)
    assert [r.shifts for r in reports] == [3, 3]


def test_ics_reimport_is_idempotent(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "w.ics", weekly("w1", ";COUNT=4"))
    run_import(staffed, path)
    first = stored(staffed)
    [again] = run_import(staffed, path)
    assert (again.added, again.removed, again.unchanged) == (0, 0, 4)
    assert stored(staffed) == first


@pytest.mark.parametrize(("staff", "message"), [
    ("X-VERBINDER-STAFF:st-nobody", "X-VERBINDER-STAFF: unknown staff id 'st-nobody'"),
    ("SUMMARY:st-liaison", "SUMMARY: staff 'st-liaison' does not have the oncall role"),
    ("ATTENDEE:mailto:someone@example.net", "no staff member found"),
    ("ATTENDEE:mailto:a@example.org\r\nATTENDEE:mailto:b@example.org", "ATTENDEE: several staff"),
])
def test_ics_staff_problems_are_named_by_uid(
    staffed_sqlite: Engine, tmp_path: Path, staff: str, message: str
):
    path = write(tmp_path, "bad.ics", weekly("ev-1", staff=staff))
    with pytest.raises(InputError) as caught:
        run_import(staffed_sqlite, path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:ev-1: {message}")
    assert stored(staffed_sqlite) == []


def test_ics_time_problems_and_nothing_changes(staffed: Engine, tmp_path: Path):
    good = write(tmp_path, "good.csv", "staff,start,end\nst-a,2026-11-01 08:00,2026-11-02 08:00\n")
    run_import(staffed, good)
    path = write(tmp_path, "bad.ics", (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:backwards\r\nDTSTART:20261123T080000Z\r\n"
        "DTEND:20261123T070000Z\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:mars\r\nDTSTART;TZID=Mars/Olympus:20261123T080000\r\n"
        "DTEND;TZID=Mars/Olympus:20261123T090000\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:nostart\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:broken\r\nDTSTART:yesterday\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:ok\r\nDTSTART:20261124T080000Z\r\n"
        "DTEND:20261124T090000Z\r\nSUMMARY:st-a\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ))
    with pytest.raises(InputError) as caught:
        run_import(staffed, path)
    assert [p.split(": ", 2)[:2] for p in caught.value.problems] == [
        [f"{path}:backwards", "DTEND"], [f"{path}:mars", "DTSTART"],
        [f"{path}:nostart", "DTSTART"], [f"{path}:broken", "DTSTART"],
    ]
    assert "unknown TZID 'Mars/Olympus'" in caught.value.problems[1]
    assert [s for s, *_ in stored(staffed)] == ["st-a"]


def test_unreadable_calendar_is_refused(staffed_sqlite: Engine, tmp_path: Path):
    path = write(tmp_path, "junk.ics", "this is not a calendar\n")
    with pytest.raises(InputError) as caught:
        run_import(staffed_sqlite, path)
    assert caught.value.problems[0].startswith(f"{path}: file: cannot read the calendar")


def test_sample_rosters_import(sqlite_engine: Engine):
    sample = Path(__file__).resolve().parents[2] / "sample" / "voorbeeldstad"
    with (sample / "staff.csv").open(encoding="utf-8") as handle, \
            session_scope(sqlite_engine) as session:
        session.add_all(
            Staff(id=r["id"], name=r["name"], email=r["email"] or None,
                  roles=r["roles"].split(";"))
            for r in csv.DictReader(handle)
        )
    ics, csv_report = run_import(sqlite_engine, sample / "oncall.ics", sample / "oncall.csv")
    assert (ics.shifts, csv_report.shifts) == (12, 6)
    with sqlite_engine.connect() as conn:
        christmas = [p.id for p in on_call_at(conn, utc(2026, 12, 25, 12))]
        week_two = [p.id for p in on_call_at(conn, utc(2026, 12, 1, 12))]
    assert christmas == ["st-jansen", "st-elhadi"]
    assert week_two == ["st-elhadi"]


# --- lookups --------------------------------------------------------------------------------


def test_on_call_at_boundaries_order_and_filters(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", (
        "staff,start,end\n"
        "st-a,2026-11-23T07:00:00Z,2026-11-30T07:00:00Z\n"
        "st-b,2026-11-30T07:00:00Z,2026-12-07T07:00:00Z\n"
        "st-c,2026-11-25T10:00:00Z,2026-11-25T12:00:00Z\n"
        "st-a,2026-11-25T09:00:00Z,2026-12-01T00:00:00Z\n"
        "st-gone,2026-11-23T07:00:00Z,2026-12-07T07:00:00Z\n"
    ))
    run_import(staffed, path)
    with staffed.connect() as conn:
        def ids(at: datetime) -> list[str]:
            return [p.id for p in on_call_at(conn, at)]

        assert ids(utc(2026, 11, 23, 6, 59, 59)) == []
        assert ids(utc(2026, 11, 23, 7)) == ["st-a"]  # start inclusive
        assert ids(utc(2026, 11, 25, 11)) == ["st-a", "st-c"]  # by shift start, then id
        both = on_call_at(conn, utc(2026, 11, 30, 7))  # end exclusive: st-a only by 2nd shift
        assert [(p.id, p.ends_at) for p in both] == [
            ("st-a", utc(2026, 12, 1)), ("st-b", utc(2026, 12, 7, 7)),
        ]
        assert ids(utc(2026, 12, 7, 7)) == []
    with Session(staffed) as session:  # a Session works as well as a Connection
        assert [p.id for p in on_call_at(session, utc(2026, 12, 1, 12))] == ["st-b"]


def test_staff_who_lost_the_role_or_left_is_not_on_call(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", "staff,start,end\nst-b,2026-11-23 08:00,2026-11-30 08:00\n")
    run_import(staffed, path)
    at = utc(2026, 11, 24)
    with session_scope(staffed) as session:
        session.get(Staff, "st-b").roles = ["liaison"]
    with staffed.connect() as conn:
        assert on_call_at(conn, at) == []
    with session_scope(staffed) as session:
        member = session.get(Staff, "st-b")
        member.roles, member.active = ["oncall"], False
    with staffed.connect() as conn:
        assert on_call_at(conn, at) == []


def test_coordinators_are_active_staff_with_the_role(staffed: Engine):
    with staffed.connect() as conn:
        assert [c.id for c in coordinators(conn)] == ["st-c", "st-coord"]


def test_list_shifts_overlapping_a_period(staffed: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", (
        "staff,start,end\nst-a,2026-11-23 08:00,2026-11-30 08:00\n"
        "st-b,2026-11-30 08:00,2026-12-07 08:00\n"
    ))
    run_import(staffed, path)
    with staffed.connect() as conn:
        assert len(list_shifts(conn)) == 2
        inside = list_shifts(conn, start=utc(2026, 11, 30, 7), until=utc(2026, 12, 1))
        assert [(v.staff_id, v.name) for v in inside] == [("st-b", "Bram B")]


def test_import_roster_single_file(staffed_sqlite: Engine, tmp_path: Path):
    path = write(tmp_path, "r.csv", "staff;start;end\nst-a;2026-11-23 08:00;2026-11-30 08:00\n")
    with session_scope(staffed_sqlite) as session:
        report = import_roster(session, path)
    assert report.as_dict()["window_from"] == "2026-11-23T07:00:00Z"
    assert len(stored(staffed_sqlite)) == 1
