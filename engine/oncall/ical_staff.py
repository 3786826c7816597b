"""Who holds the shifts of a VEVENT: X-VERBINDER-STAFF, else an ATTENDEE's email, else
SUMMARY = staff id, else the ORGANIZER's email."""

from __future__ import annotations

from typing import Any

from engine.oncall.staff import staff_problem
from engine.registry.snapshot import StaffData


class EventError(ValueError):
    """A VEVENT that cannot become shifts; the message names the property."""


def find_staff(component: Any, staff: dict[str, StaffData]) -> str:
    """The staff id of a VEVENT's shifts; EventError when none or several are found."""
    explicit = [str(v).strip() for v in _as_list(component.get("X-VERBINDER-STAFF"))]
    if explicit:
        if len(set(explicit)) > 1:
            raise EventError("X-VERBINDER-STAFF: more than one staff id / meer dan één")
        return _checked(explicit[0], staff, "X-VERBINDER-STAFF")
    by_email = {m.email.strip().lower(): m.id for m in staff.values() if m.email}
    attendees = {by_email[e] for e in map(_mailto, _as_list(component.get("ATTENDEE")))
                 if e in by_email}
    if len(attendees) > 1:
        raise EventError(
            "ATTENDEE: several staff members; set X-VERBINDER-STAFF / meerdere medewerkers"
        )
    if attendees:
        return _checked(attendees.pop(), staff, "ATTENDEE")
    summary = str(component.get("SUMMARY") or "").strip()
    by_id = {i.lower(): i for i in staff}
    if summary.lower() in by_id:
        return _checked(by_id[summary.lower()], staff, "SUMMARY")
    organizer = _mailto(component.get("ORGANIZER") or "")
    if organizer in by_email:
        return _checked(by_email[organizer], staff, "ORGANIZER")
    raise EventError(
        "no staff member found (X-VERBINDER-STAFF, ATTENDEE/ORGANIZER email, or SUMMARY = staff"
        " id) / geen medewerker gevonden"
    )


def _checked(staff_id: str, staff: dict[str, StaffData], prop: str) -> str:
    problem = staff_problem(staff_id, staff)
    if problem:
        raise EventError(f"{prop}: {problem}")
    return staff_id


def _mailto(prop: Any) -> str:
    text = str(prop).strip()
    return text[7:].strip().lower() if text.lower().startswith("mailto:") else ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
