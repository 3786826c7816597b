"""Durations across the clock changes: days are calendar days in the playbook's timezone, the
rest is elapsed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook.builder import build_checklist, followup_due, plan_steps
from playbook.durations import due_after, parse_duration
from playbook.loader import load_playbook
from playbook.model import CommunityData, ContactData, Duration, IncidentInput

AMS = ZoneInfo("Europe/Amsterdam")
ZONE = "Europe/Amsterdam"


def local(*args: int) -> datetime:
    """A wall-clock time in Amsterdam, as aware UTC."""
    return datetime(*args, tzinfo=AMS).astimezone(UTC)


# 2027: summer time starts Sunday 28 March 02:00 and ends Sunday 31 October 03:00.
FRIDAY_BEFORE_SPRING = local(2027, 3, 26, 10, 0)  # 09:00 UTC (winter time)
FRIDAY_BEFORE_AUTUMN = local(2027, 10, 29, 10, 0)  # 08:00 UTC (summer time)


def test_a_week_declared_before_the_spring_change_ends_at_the_same_local_time() -> None:
    due = due_after(FRIDAY_BEFORE_SPRING, parse_duration("7d"), ZONE)
    assert due.astimezone(AMS) == datetime(2027, 4, 2, 10, 0, tzinfo=AMS)
    assert due == datetime(2027, 4, 2, 8, 0, tzinfo=UTC)
    assert due - FRIDAY_BEFORE_SPRING == timedelta(days=7, hours=-1)


def test_a_week_declared_before_the_autumn_change_ends_at_the_same_local_time() -> None:
    due = due_after(FRIDAY_BEFORE_AUTUMN, parse_duration("P1W"), ZONE)
    assert due.astimezone(AMS) == datetime(2027, 11, 5, 10, 0, tzinfo=AMS)
    assert due == datetime(2027, 11, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["168h", "PT168H", "PT10080M"])
def test_hours_across_a_change_are_elapsed_time(text: str) -> None:
    due = due_after(FRIDAY_BEFORE_SPRING, parse_duration(text), ZONE)
    assert due - FRIDAY_BEFORE_SPRING == timedelta(hours=168)
    assert due.astimezone(AMS).hour == 11  # an hour later on the wall clock


def test_days_then_elapsed_rest() -> None:
    due = due_after(FRIDAY_BEFORE_SPRING, parse_duration("P2DT3H"), ZONE)
    # Sunday 28 March 10:00 summer time, then three real hours
    assert due.astimezone(AMS) == datetime(2027, 3, 28, 13, 0, tzinfo=AMS)


def test_a_wall_time_skipped_in_spring_comes_that_much_later() -> None:
    start = local(2027, 3, 27, 2, 30)  # Saturday 02:30 winter time
    due = due_after(start, Duration(days=1), ZONE)  # Sunday 02:30 does not exist
    assert due.astimezone(AMS) == datetime(2027, 3, 28, 3, 30, tzinfo=AMS)
    assert due - start == timedelta(hours=24)


def test_a_wall_time_repeated_in_autumn_is_its_first() -> None:
    start = local(2027, 10, 30, 2, 30)  # Saturday 02:30 summer time
    due = due_after(start, Duration(days=1), ZONE)  # Sunday 02:30 comes twice
    assert due == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # the first: summer time
    assert due - start == timedelta(hours=24)


def test_in_utc_a_day_is_24_hours() -> None:
    assert due_after(FRIDAY_BEFORE_SPRING, Duration(days=7), "UTC") == \
        FRIDAY_BEFORE_SPRING + timedelta(days=7)


# --- the builder: checklist tasks, follow-ups, escalation steps and rounds --------------------

PLAYBOOK = """\
playbook: {id: t, version: "1", name: T, default_locale: nl, timezone: Europe/Amsterdam}
defaults: {escalation: daily}
incident_types: {attack: {label: {nl: A}}}
rules:
  - {id: r, when: "true", select: "true", role: affected, tasks: [call, week, hours]}
tasks:
  call: {title: {nl: Bellen}, due: 1h, kind: outreach}
  week: {title: {nl: Nazorg}, due: 7d, kind: followup, template: msg}
  hours: {title: {nl: Uren}, due: 168h, kind: action}
escalation_policies:
  daily:
    steps:
      - {after: 0m, notify: primary, template: msg}
      - {after: 30m, notify: backup, template: msg}
    repeat: 3
    period: 1d
templates:
  msg: {sms: {nl: "Hallo"}}
"""


@pytest.fixture
def playbook(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def test_the_checklist_dates_tasks_by_the_rule(playbook) -> None:  # type: ignore[no-untyped-def]
    incident = IncidentInput(type="attack", declared_at=FRIDAY_BEFORE_SPRING)
    doc = build_checklist(playbook, incident, [CommunityData("c1", "C", "faith")],
                          [ContactData("p1", "c1", "P", phone="+31600000000")]).to_json()
    due = {t["id"]: t["due"] for t in doc["communities"][0]["tasks"]}
    assert due == {"call": "2027-03-26T10:00:00Z", "week": "2027-04-02T08:00:00Z",
                   "hours": "2027-04-02T09:00:00Z"}
    assert followup_due(playbook.tasks["week"], FRIDAY_BEFORE_SPRING, playbook.timezone) == \
        datetime(2027, 4, 2, 8, 0, tzinfo=UTC)


def test_daily_rounds_keep_local_time_and_steps_in_a_round_keep_elapsed_time(
    playbook,  # type: ignore[no-untyped-def]
) -> None:
    start = local(2027, 3, 27, 9, 45)  # Saturday, the night before the spring change
    planned = plan_steps(playbook.policies["daily"], start, playbook.timezone)
    shown = [(s.round, s.step_index, s.due_at.astimezone(AMS).strftime("%a %H:%M %Z"))
             for s in planned]
    assert shown == [
        (0, 0, "Sat 09:45 CET"), (0, 1, "Sat 10:15 CET"),
        (1, 0, "Sun 09:45 CEST"), (1, 1, "Sun 10:15 CEST"),
        (2, 0, "Mon 09:45 CEST"), (2, 1, "Mon 10:15 CEST"),
        (3, 0, "Tue 09:45 CEST"), (3, 1, "Tue 10:15 CEST"),
    ]
    assert planned[2].due_at - planned[0].due_at == timedelta(hours=23)


# --- properties ---------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                        timezones=st.just(UTC))
zones = st.sampled_from(["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe",
                         "Asia/Tehran", "UTC"])
elapsed = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time happens in a zone (not skipped by a change)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@given(start=instants, days=st.integers(0, 800), zone=zones)
def test_days_move_the_date_and_keep_the_wall_clock(start: datetime, days: int,
                                                     zone: str) -> None:
    tz = ZoneInfo(zone)
    due = due_after(start, Duration(days=days), zone)
    before = start.astimezone(tz).replace(tzinfo=None, fold=0)
    wall = before + timedelta(days=days)
    after = due.astimezone(tz).replace(tzinfo=None, fold=0)
    if exists(wall, tz):
        assert after == wall
    else:  # skipped: later by the length of the gap, on the same date or just after
        assert wall < after <= wall + timedelta(hours=1)
    assert due.tzinfo is UTC


@given(start=instants, rest=elapsed, zone=zones)
def test_the_elapsed_part_is_real_time(start: datetime, rest: timedelta, zone: str) -> None:
    assert due_after(start, Duration(elapsed=rest), zone) - start == rest


@given(start=instants, days=st.integers(0, 400), rest=elapsed, zone=zones)
def test_days_first_then_the_rest(start: datetime, days: int, rest: timedelta,
                                  zone: str) -> None:
    assert due_after(start, Duration(days, rest), zone) == \
        due_after(start, Duration(days=days), zone) + rest


@given(start=instants, days=st.integers(0, 400), zone=zones)
def test_one_more_day_is_always_later(start: datetime, days: int, zone: str) -> None:
    assert due_after(start, Duration(days=days), zone) < \
        due_after(start, Duration(days=days + 1), zone)
