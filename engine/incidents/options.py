"""Incident OPTIONS (CLI.md) as given, checked and turned into an IncidentInput; shared by
`incident preview` and `declare` (and, later, the web form)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from engine.clock import Clock
from engine.errors import InputError
from playbook.builder import coerce_fields, resolve_incident, validate_incident
from playbook.errors import IncidentInputError
from playbook.model import IncidentInput, Playbook
from playbook.said import Said, prefixed

MAX_TITLE = 200  # characters; a title goes into SMS bodies, email subjects and every listing
MAX_AREA = 100
MAX_FIELD_VALUE = 500
# Control characters (and bidirectional overrides) in a title reach terminals, mail headers
# and SMS bodies; no real title needs them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def text_problem(option: str, value: str | None, limit: int) -> str | None:
    """What is wrong with a free-text option: a control character or too many characters."""
    if value is None:
        return None
    found = _CONTROL.search(value)
    if found:
        return (f"{option}: holds a control character (U+{ord(found.group()):04X}) at position "
                f"{found.start() + 1}; use plain text")
    if len(value) > limit:
        return f"{option}: {len(value)} characters long; at most {limit}"
    return None


@dataclass(frozen=True)
class IncidentOptions:
    """The raw incident OPTIONS as given on the command line."""

    type: str
    severity: int | None = None
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    fields: tuple[str, ...] = ()
    title: str | None = None
    exercise: bool = False
    at: str | None = None


def parse_at(text: str | None, clock: Clock) -> datetime:
    """`--at` as an aware UTC datetime (offset or Z required); now from the clock when absent."""
    if text is None or not text.strip():
        return clock.now().astimezone(UTC)
    value = text.strip()
    try:
        when = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "zZ" else value)
    except ValueError:
        raise InputError(f"--at: '{text}' is not an ISO 8601 time "
                         "(e.g. 2026-03-01T10:00:00+01:00 or 2026-03-01T09:00:00Z)") from None
    if when.tzinfo is None:
        raise InputError(f"--at: '{text}' needs a time zone offset or Z")
    return when.astimezone(UTC)


def parse_field_options(values: Iterable[str]) -> dict[str, str]:
    """`--field NAME=VALUE` strings as a dict; InputError on a malformed or repeated one."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"--field: '{item}' is not NAME=VALUE")
        elif name in out:
            problems.append(f"--field {name}: given twice")
        else:
            out[name] = value
    if problems:
        raise InputError(problems)
    return out


def incident_input_from_options(playbook: Playbook, options: IncidentOptions,
                                clock: Clock) -> IncidentInput:
    """A validated, resolved IncidentInput from the OPTIONS; InputError names what is wrong."""
    itype = playbook.incident_types.get(options.type)
    if itype is None:
        known = ", ".join(sorted(playbook.incident_types))
        raise InputError(f"--type: unknown incident type '{options.type}' (known: {known})")
    problems: list[str] = [p for p in (
        text_problem("--title", options.title, MAX_TITLE),
        text_problem("--area", options.area, MAX_AREA),
        *(text_problem(f"--field {f.partition('=')[0].strip()[:50]}", f, MAX_FIELD_VALUE)
          for f in options.fields),
    ) if p is not None]
    fields: dict[str, object] = {}
    try:
        fields = coerce_fields(itype, parse_field_options(options.fields))
    except IncidentInputError as exc:
        problems.extend(prefixed("--field ", p) for p in exc.problems)
    if options.severity is not None and not 1 <= options.severity <= 5:
        problems.append(Said("severity_range", f"--severity: {options.severity} must be from "
                             "1 to 5", value=options.severity))
    if (options.lat is None) != (options.lon is None):
        problems.append("--lat/--lon: give both or neither")
    try:
        declared_at = parse_at(options.at, clock)
    except InputError as exc:
        problems.extend(exc.problems)
        declared_at = clock.now().astimezone(UTC)
    area = options.area.strip() if options.area and options.area.strip() else None
    incident = IncidentInput(
        type=options.type, declared_at=declared_at, title=options.title,
        severity=options.severity, area=area, lat=options.lat, lon=options.lon,
        fields=MappingProxyType(fields), exercise=options.exercise,
    )
    if not problems:
        problems.extend(p for p in validate_incident(playbook, incident)
                        if not p.startswith(("severity", "lat/lon")))
    if problems:
        raise InputError(problems)
    return resolve_incident(playbook, incident)
