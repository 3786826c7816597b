"""The checklist builder: one incident + the registry -> the checklist (pure, deterministic)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any

from playbook.areas import within
from playbook.durations import due_after
from playbook.errors import IncidentInputError
from playbook.model import (
    CHANNELS,
    ROLES,
    CommunityData,
    ContactData,
    Duration,
    EscalationPolicy,
    IncidentInput,
    IncidentType,
    PlannedStep,
    Playbook,
    Rule,
    Task,
)
from playbook.records import Record
from playbook.said import Said

ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_TRUE = frozenset({"true", "yes", "ja", "1", "y", "j"})
_FALSE = frozenset({"false", "no", "nee", "0", "n"})


def iso_z(value: datetime) -> str:
    """UTC as `YYYY-MM-DDTHH:MM:SSZ`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the checklist ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibleContact:
    """A contact who may be messaged, with the channel, address and language to use."""

    contact: ContactData
    channel: str
    address: str
    language: str

    def to_json(self) -> dict[str, Any]:
        """The contact as in the checklist document."""
        c = self.contact
        return {"id": c.id, "name": c.name, "priority": c.priority, "channel": self.channel,
                "language": self.language}


@dataclass(frozen=True)
class TaskItem:
    """A task with its due time."""

    task: Task
    due_at: datetime
    title: str

    @cached_property
    def _due_text(self) -> str:
        # One task item is shared by every community that has the task: format its time once.
        return iso_z(self.due_at)

    def to_json(self) -> dict[str, Any]:
        """The task as in the checklist document."""
        t = self.task
        return {"id": t.id, "title": self.title, "due": self._due_text, "kind": t.kind,
                "owner": t.owner}


@dataclass(frozen=True)
class CommunityItem:
    """A matched community: role, rules, escalation, eligible contacts and tasks."""

    community: CommunityData
    role: str
    rules: tuple[str, ...]
    escalation: str | None
    contacts: tuple[EligibleContact, ...]
    tasks: tuple[TaskItem, ...]

    def to_json(self) -> dict[str, Any]:
        """The community as in the checklist document."""
        c = self.community
        return {"id": c.id, "name": c.name, "kind": c.kind, "role": self.role,
                "rules": list(self.rules), "escalation": self.escalation,
                "contacts": [p.to_json() for p in self.contacts],
                "tasks": [t.to_json() for t in self.tasks]}


@dataclass(frozen=True)
class Checklist:
    """What one incident means: incident tasks, matched communities, warnings."""

    playbook: Playbook
    incident: IncidentInput  # resolved: severity and title filled in
    incident_tasks: tuple[TaskItem, ...]
    communities: tuple[CommunityItem, ...]
    warnings: tuple[str, ...]
    warning_details: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The checklist document of PLAYBOOK.md."""
        i, p = self.incident, self.playbook
        return {
            "incident": {
                "type": i.type, "title": i.title, "label": p.text(
                    p.incident_types[i.type].label, i.type),
                "severity": i.severity, "area": i.area, "lat": i.lat, "lon": i.lon,
                "fields": dict(i.fields), "exercise": i.exercise,
                "declared_at": iso_z(i.declared_at),
                "playbook": {"id": p.id, "version": p.version, "digest": p.digest},
            },
            "incident_tasks": [t.to_json() for t in self.incident_tasks],
            "communities": [c.to_json() for c in self.communities],
            "warnings": list(self.warnings),
            "warning_details": [dict(w) for w in self.warning_details],
        }


# --- incident input ----------------------------------------------------------------------------


def _value_problem(name: str, spec_type: str, values: tuple[str, ...], value: Any) -> str | None:
    ok = {
        "string": isinstance(value, str),
        "community": isinstance(value, str),
        "tag": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "enum": isinstance(value, str) and value in values,
    }.get(spec_type, False)
    if ok:
        return None
    if spec_type == "enum":
        return Said("field_not_one_of", f"field '{name}': {value!r} is not one of "
                    f"{', '.join(values)}", name=name, value=repr(value), values=", ".join(values))
    wanted = {"string": "a text", "community": "a community id", "tag": "a tag",
              "int": "a whole number", "bool": "true or false"}[spec_type]
    return Said("field_not_type", f"field '{name}': {value!r} is not {wanted}", name=name,
                value=repr(value), kind=spec_type)


def validate_incident(playbook: Playbook, incident: IncidentInput) -> list[str]:
    """Every problem of an incident's input: type, fields, severity, position, time."""
    itype = playbook.incident_types.get(incident.type)
    if itype is None:
        known = ", ".join(sorted(playbook.incident_types))
        return [f"unknown incident type '{incident.type}' (known: {known})"]
    problems: list[str] = []
    for name, spec in itype.fields.items():
        if spec.required and name not in incident.fields:
            problems.append(Said("field_required",
                                 f"field '{name}': required for type '{itype.id}'",
                                 name=name, type=itype.id))
    for name, value in incident.fields.items():
        given = itype.fields.get(name)
        if given is None:
            problems.append(_undefined(name, itype))
            continue
        problem = _value_problem(name, given.type, given.values, value)
        if problem:
            problems.append(problem)
    severity = incident.severity
    if severity is not None and (isinstance(severity, bool) or not isinstance(severity, int)
                                 or not 1 <= severity <= 5):
        problems.append(Said("severity_range",
                             f"severity: {severity!r} must be a whole number from 1 to 5",
                             value=repr(severity)))
    if (incident.lat is None) != (incident.lon is None):
        problems.append("lat/lon: give both or neither")
    if incident.lat is not None and not -90 <= incident.lat <= 90:
        problems.append(f"lat: {incident.lat} is not between -90 and 90")
    if incident.lon is not None and not -180 <= incident.lon <= 180:
        problems.append(f"lon: {incident.lon} is not between -180 and 180")
    if incident.declared_at.tzinfo is None:
        problems.append("declared_at: needs a time zone offset or Z")
    return problems


def _defined(itype: IncidentType) -> str:
    return f" (defined: {', '.join(itype.fields)})" if itype.fields else " (it has no fields)"


def _undefined(name: str, itype: IncidentType) -> Said:
    return Said("field_undefined",
                f"field '{name}': not defined for type '{itype.id}'{_defined(itype)}",
                name=name, type=itype.id, defined=", ".join(itype.fields))


def coerce_fields(incident_type: IncidentType, raw: Mapping[str, str]) -> dict[str, Any]:
    """Turn `--field NAME=VALUE` strings into typed values; IncidentInputError names each field."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in raw.items():
        spec = incident_type.fields.get(name)
        if spec is None:
            problems.append(_undefined(name, incident_type))
            continue
        value = text.strip()
        if spec.type == "int":
            try:
                out[name] = int(value)
            except ValueError:
                problems.append(Said("field_not_whole", f"field '{name}': '{text}' is not a "
                                     "whole number", name=name, value=text))
        elif spec.type == "bool":
            if value.lower() in _TRUE:
                out[name] = True
            elif value.lower() in _FALSE:
                out[name] = False
            else:
                problems.append(Said("field_not_bool", f"field '{name}': '{text}' is not "
                                     "true or false", name=name, value=text))
        elif spec.type == "enum":
            if value in spec.values:
                out[name] = value
            else:
                problems.append(Said("field_not_one_of", f"field '{name}': '{text}' is not "
                                     f"one of {', '.join(spec.values)}", name=name,
                                     value=f"'{text}'", values=", ".join(spec.values)))
        else:
            out[name] = text
    if problems:
        raise IncidentInputError(problems)
    return out


def resolve_incident(playbook: Playbook, incident: IncidentInput) -> IncidentInput:
    """Fill in the type's default severity and label as title; time in UTC."""
    itype = playbook.incident_types[incident.type]
    severity = incident.severity if incident.severity is not None else itype.default_severity
    title = incident.title if incident.title and incident.title.strip() else playbook.text(
        itype.label, itype.id)
    declared = incident.declared_at
    declared = declared.replace(tzinfo=UTC) if declared.tzinfo is None else declared
    return replace(incident, severity=severity, title=title,
                   declared_at=declared.astimezone(UTC),
                   fields=MappingProxyType(dict(incident.fields)))


REGISTRY_FIELD_TYPES = ("community", "tag")  # field types whose values the registry holds
MAX_SUGGESTIONS = 3
MAX_LISTED = 60  # a refused tag lists every known tag when there are no more than this


def registry_field_problems(playbook: Playbook, incident: IncidentInput,
                            communities: Iterable[CommunityData]) -> list[str]:
    """Fields of type `community` or `tag` whose value no active community holds, each naming
    the closest ids or tags ("did you mean"): a typo must not silently drop a community."""
    itype = playbook.incident_types.get(incident.type)
    if itype is None:
        return []
    checked = [(name, spec.type) for name, spec in itype.fields.items()
               if spec.type in REGISTRY_FIELD_TYPES and isinstance(incident.fields.get(name), str)]
    if not checked:
        return []
    community_list = list(communities)
    ids = {c.id for c in community_list}
    tags = {t for c in community_list for t in c.tags}
    problems: list[str] = []
    for name, ftype in checked:
        value = str(incident.fields[name])
        if ftype == "community" and value not in ids:
            hint, hint_nl = _did_you_mean(_closest_communities(value, community_list))
            problems.append(Said("field_no_community", f"field '{name}': '{value}' is not the "
                                 f"id of an active community{hint}",
                                 name=name, value=value, hint_nl=hint_nl))
        elif ftype == "tag" and value not in tags:
            hint, hint_nl = _did_you_mean(_closest(value, tags), tags)
            problems.append(Said("field_no_tag", f"field '{name}': no active community carries "
                                 f"the tag '{value}'{hint}",
                                 name=name, value=value, hint_nl=hint_nl))
    return problems


def _closest(value: str, choices: Iterable[str]) -> list[str]:
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=MAX_SUGGESTIONS,
                                      cutoff=0.6)
    return [by_folded[c] for c in close]


def _closest_communities(value: str, communities: list[CommunityData]) -> list[str]:
    """The ids closest to the value, then ids of communities whose name is close to it."""
    found = _closest(value, (c.id for c in communities))
    names: dict[str, list[str]] = {}
    for c in communities:
        names.setdefault(c.name.casefold(), []).append(c.id)
    for name in _closest(value, names):
        found.extend(cid for cid in names[name] if cid not in found)
    return found[:MAX_SUGGESTIONS]


def _did_you_mean(suggestions: list[str], known: set[str] | None = None) -> tuple[str, str]:
    """The hint after a refused community or tag: in English, and in Dutch for Said."""
    if not suggestions and known is not None and not known:
        return (" (no active community carries any tag)",
                " (geen actieve gemeenschap heeft een tag)")
    if not suggestions and known is not None and len(known) <= MAX_LISTED:
        listed = ", ".join(sorted(known))
        return f" (known: {listed})", f" (bekend: {listed})"
    if not suggestions:
        return (" (no close match; `verbinder registry export` lists them)",
                " (niets gelijkends; `verbinder registry export` toont ze)")
    quoted = [f"'{s}'" for s in suggestions]
    return (" (did you mean " + " or ".join(quoted) + "?)",
            " (bedoelt u " + " of ".join(quoted) + "?)")


def area_warning(area: str | None, communities: Iterable[CommunityData]) -> str | None:
    """A warning when no community's area lies in the incident's area (a typo, or a code of
    another municipality); None when one does or no area was given."""
    if not area or any(within(c.area, area) for c in communities if c.area):
        return None
    return (f"--area '{area}': geen gemeenschap ligt in dit gebied / no community lies in this "
            "area; check the area code")


_FIELD_REFERENCE = re.compile(
    r"incident\.fields(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*[\"']([^\"']+)[\"']\s*\])")


def fields_to_check(playbook: Playbook, incident_type: IncidentType,
                    rules: Iterable[Rule]) -> list[str]:
    """The options that decide the rules' matches: the type's fields the rules read (as
    `--field NAME`), and `--area` when they read the area; every field when they name none."""
    named: set[str] = set()
    reads_area = False
    for rule in rules:
        for source in (rule.when or "", rule.select or ""):
            named.update(a or b for a, b in _FIELD_REFERENCE.findall(source))
            reads_area = reads_area or "incident.area" in source
    fields = [f for f in incident_type.fields if f in named] or list(incident_type.fields)
    return [f"--field {f}" for f in fields] + (["--area"] if reads_area else [])


def _affected_rules_of(playbook: Playbook, incident_type: str,
                       applying: list[Rule]) -> list[Rule]:
    """The `affected` rules of an incident type: those that apply, and those whose `when`
    names the type (they may not apply because a field they need is missing)."""
    quoted = (f'"{incident_type}"', f"'{incident_type}'")
    return [r for r in playbook.rules if r.role == "affected" and r.select is not None
            and (r in applying or any(q in (r.when or "") for q in quoted))]


def no_affected_warning(playbook: Playbook, incident: IncidentInput, applying: list[Rule],
                        items: Iterable[CommunityItem]) -> tuple[str, list[str]] | None:
    """When the type has `affected` rules but no community was matched as affected: the
    warning and the options to check."""
    if any(item.role == "affected" for item in items):
        return None
    rules = _affected_rules_of(playbook, incident.type, applying)
    if not rules:
        return None
    options = fields_to_check(playbook, playbook.incident_types[incident.type], rules)
    return (f"geen gemeenschap als getroffen (affected) gevonden / no community matched as "
            f"affected: check {', '.join(options)}", options)


# --- expressions' view of the data ---------------------------------------------------------


def incident_record(playbook: Playbook, incident: IncidentInput) -> Record:
    """The `incident` name of expressions and templates (plain data)."""
    itype = playbook.incident_types.get(incident.type)
    label = playbook.text(itype.label, incident.type) if itype else incident.type
    return Record({
        "type": incident.type, "severity": incident.severity, "area": incident.area,
        "lat": incident.lat, "lon": incident.lon, "fields": Record(dict(incident.fields)),
        "exercise": incident.exercise, "title": incident.title, "label": label,
    })


def community_record(c: CommunityData) -> Record:
    """The `community` name of expressions (plain data)."""
    tags, languages = c.tags, c.languages
    return Record({
        "id": c.id, "name": c.name, "kind": c.kind,
        "tags": tags if type(tags) is tuple else tuple(tags),
        "languages": languages if type(languages) is tuple else tuple(languages),
        "area": c.area, "lat": c.lat, "lon": c.lon, "attributes": Record(c.attributes),
    })


# --- matching ------------------------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class _Warnings:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.details: list[dict[str, Any]] = []

    def add(self, text: str, **detail: Any) -> None:
        self.texts.append(text)
        self.details.append(detail)


def _applying_rules(playbook: Playbook, incident: Record, warnings: _Warnings) -> list[Rule]:
    applying = []
    for rule in playbook.rules:
        if rule.when_expr is None:
            applying.append(rule)
            continue
        try:
            if rule.when_expr.evaluate(incident=incident):
                applying.append(rule)
        except Exception as exc:
            warnings.add(f"rule '{rule.id}': its 'when' could not be evaluated "
                         f"({_error_text(exc)}); the rule does not apply",
                         code="when_failed", rule=rule.id)
    return applying


def _match(rules: list[Rule], communities: list[CommunityData], incident: Record,
           warnings: _Warnings) -> dict[int, list[Rule]]:
    """Community index -> matching rules in file order; each `select` once per community."""
    matched: dict[int, list[Rule]] = {}
    select_rules = [r for r in rules if r.select_expr is not None]
    if not select_rules:
        return matched
    records = [community_record(c) for c in communities]
    for rule in select_rules:
        run = rule.select_expr.binder({"incident": incident})
        failed: list[str] = []
        first_error = ""
        for index, record in enumerate(records):
            try:
                hit = run("community", record)
            except Exception as exc:
                if not failed:
                    first_error = _error_text(exc)
                failed.append(communities[index].id)
                continue
            if hit:
                matched.setdefault(index, []).append(rule)
        if failed:
            shown = ", ".join(sorted(failed)[:5]) + (", ..." if len(failed) > 5 else "")
            warnings.add(f"rule '{rule.id}': its 'select' could not be evaluated for "
                         f"{len(failed)} communit{'y' if len(failed) == 1 else 'ies'} "
                         f"({shown}): {first_error}; the rule does not match "
                         f"{'it' if len(failed) == 1 else 'them'}",
                         code="select_failed", rule=rule.id, count=len(failed),
                         communities=sorted(failed))
    return matched


def _union_tasks(rules: Iterable[Rule]) -> list[str]:
    return list(dict.fromkeys(task for rule in rules for task in rule.tasks))


def _escalation(rules: list[Rule], role: str, default: str | None) -> str | None:
    for rule in rules:
        if rule.role == role and rule.escalation:
            return rule.escalation
    return default


# --- contacts ------------------------------------------------------------------------------


def _address(contact: ContactData, channel: str) -> str | None:
    return contact.phone if channel == "sms" else contact.email


def choose_channel(contact: ContactData,
                   opted_out: frozenset[tuple[str, str]] = frozenset()) -> tuple[str, str] | None:
    """(channel, address): the preferred channel when usable, else the other; None if neither."""
    preferred = contact.channel if contact.channel in CHANNELS else "sms"
    other = "email" if preferred == "sms" else "sms"
    for channel in (preferred, other):
        address = _address(contact, channel)
        if address and (channel, address) not in opted_out:
            return channel, address
    return None


def _leave_out_reason(contact: ContactData, opted_out: frozenset[tuple[str, str]]) -> str | None:
    if not contact.active:
        return "inactive"
    if contact.consent is None:
        return "without consent"
    if not contact.phone and not contact.email:
        return "without an address"
    if choose_channel(contact, opted_out) is None:
        return "opted out"
    return None


def contact_language(contact: ContactData, community: CommunityData, default_locale: str) -> str:
    """The contact's language, else the community's first language, else the default locale."""
    if contact.language:
        return contact.language
    if community.languages:
        return community.languages[0]
    return default_locale


def eligible_contacts(
    community: CommunityData, contacts: Iterable[ContactData], default_locale: str,
    opted_out: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[list[EligibleContact], dict[str, int]]:
    """The eligible contacts in checklist order, and counts of those left out by reason."""
    eligible: list[EligibleContact] = []
    left_out: dict[str, int] = {}
    for contact in contacts:
        reason = _leave_out_reason(contact, opted_out)
        if reason is not None:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        chosen = choose_channel(contact, opted_out)
        assert chosen is not None
        eligible.append(EligibleContact(contact, chosen[0], chosen[1],
                                        contact_language(contact, community, default_locale)))
    eligible.sort(key=lambda e: (e.contact.priority, e.contact.name, e.contact.id))
    return eligible, left_out


# --- the builder ---------------------------------------------------------------------------


def _task_items(playbook: Playbook, task_ids: list[str], declared_at: datetime,
                cache: dict[str, TaskItem]) -> tuple[TaskItem, ...]:
    items = []
    for tid in task_ids:
        item = cache.get(tid)
        if item is None:
            task = playbook.tasks[tid]
            item = TaskItem(task, followup_due(task, declared_at, playbook.timezone),
                            playbook.text(task.title, tid))
            cache[tid] = item
        items.append(item)
    return tuple(items)


@dataclass(frozen=True)
class _Outcome:
    """What a combination of matching rules means: the same for every community it matches."""

    role: str
    rules: tuple[str, ...]
    escalation: str | None
    tasks: tuple[TaskItem, ...]


def _outcome(playbook: Playbook, rules: list[Rule], declared_at: datetime,
             cache: dict[str, TaskItem]) -> _Outcome:
    role = min((r.role for r in rules if r.role), key=ROLE_RANK.__getitem__)
    return _Outcome(role, tuple(r.id for r in rules),
                    _escalation(rules, role, playbook.default_escalation),
                    _task_items(playbook, _union_tasks(rules), declared_at, cache))


def _community_item(playbook: Playbook, community: CommunityData, outcome: _Outcome,
                    contacts: list[ContactData], opted_out: frozenset[tuple[str, str]],
                    warnings: _Warnings) -> CommunityItem:
    eligible, left_out = eligible_contacts(community, contacts, playbook.default_locale,
                                           opted_out)
    if left_out:
        total = sum(left_out.values())
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(left_out.items()))
        warnings.add(f"{community.name} ({community.id}): {total} "
                     f"contact{'s' if total != 1 else ''} left out ({reasons})",
                     code="contacts_left_out", community=community.id, count=total,
                     reasons=dict(sorted(left_out.items())))
    if not eligible:
        warnings.add(f"{community.name} ({community.id}): no eligible contact",
                     code="no_eligible_contact", community=community.id)
    return CommunityItem(community=community, role=outcome.role, rules=outcome.rules,
                         escalation=outcome.escalation, contacts=tuple(eligible),
                         tasks=outcome.tasks)


def build_checklist(
    playbook: Playbook, incident: IncidentInput, communities: Iterable[CommunityData],
    contacts: Iterable[ContactData], opted_out: frozenset[tuple[str, str]] = frozenset(),
) -> Checklist:
    """The checklist of an incident over the registry (PLAYBOOK.md, "The checklist")."""
    return _build(playbook, incident, communities, contacts, opted_out)


def _build(
    playbook: Playbook, incident: IncidentInput, communities: Iterable[CommunityData],
    contacts: Iterable[ContactData], opted_out: frozenset[tuple[str, str]],
) -> Checklist:
    community_list = list(communities)
    problems = validate_incident(playbook, incident) or registry_field_problems(
        playbook, incident, community_list)
    if problems:
        raise IncidentInputError(problems)
    incident = resolve_incident(playbook, incident)
    record = incident_record(playbook, incident)
    warnings = _Warnings()
    rules = _applying_rules(playbook, record, warnings)
    matched = _match(rules, community_list, record, warnings)
    wanted = {community_list[i].id for i in matched}
    by_community: dict[str, list[ContactData]] = {cid: [] for cid in wanted}
    for contact in contacts:
        bucket = by_community.get(contact.community_id)
        if bucket is not None:
            bucket.append(contact)
    cache: dict[str, TaskItem] = {}
    outcomes: dict[tuple[str, ...], _Outcome] = {}
    seen: set[str] = set()
    items = []
    for index in sorted(matched):
        community = community_list[index]
        if community.id in seen:  # the same community twice in the input counts once
            continue
        seen.add(community.id)
        rules_of = matched[index]
        key = tuple(r.id for r in rules_of)
        outcome = outcomes.get(key)
        if outcome is None:
            outcome = outcomes[key] = _outcome(playbook, rules_of, incident.declared_at, cache)
        items.append(_community_item(playbook, community, outcome, by_community[community.id],
                                     opted_out, warnings))
    items.sort(key=lambda c: (ROLE_RANK[c.role], c.community.name.casefold(), c.community.id))
    _sort_community_warnings(warnings, items)
    _add_input_warnings(playbook, incident, rules, items, community_list, warnings)
    incident_rules = [r for r in rules if r.select is None]
    incident_tasks = _task_items(playbook, _union_tasks(incident_rules), incident.declared_at,
                                 cache)
    return Checklist(playbook, incident, incident_tasks, tuple(items), tuple(warnings.texts),
                     tuple(warnings.details))


def _add_input_warnings(playbook: Playbook, incident: IncidentInput, applying: list[Rule],
                        items: list[CommunityItem], communities: list[CommunityData],
                        warnings: _Warnings) -> None:
    """What the coordinator may have mistyped, first: no affected community, an empty area."""
    first = _Warnings()
    no_affected = no_affected_warning(playbook, incident, applying, items)
    if no_affected is not None:
        first.add(no_affected[0], code="no_affected", check=no_affected[1])
    area = area_warning(incident.area, communities)
    if area is not None:
        first.add(area, code="area_without_communities", area=incident.area)
    warnings.texts[:0] = first.texts
    warnings.details[:0] = first.details


def _sort_community_warnings(warnings: _Warnings, items: list[CommunityItem]) -> None:
    """Rule warnings first (file order), then community warnings in checklist order."""
    order: dict[Any, int] = {item.community.id: n for n, item in enumerate(items)}
    paired = list(zip(warnings.texts, warnings.details, strict=True))
    paired.sort(key=lambda p: (p[1].get("community") is not None,
                               order.get(p[1].get("community"), -1)))
    warnings.texts = [t for t, _ in paired]
    warnings.details = [d for _, d in paired]


# --- timers --------------------------------------------------------------------------------


def plan_steps(policy: EscalationPolicy, declared_at: datetime,
               zone: str) -> list[PlannedStep]:
    """Every step of every round in time: round k starts k x period after the declaration.

    `zone` is the playbook's timezone: the days of `k x period + after` are calendar days
    there, the rest elapsed time (playbook.durations.due_after).
    """
    rounds = policy.repeat + 1 if policy.period else 1
    period = policy.period or Duration()
    planned = [
        PlannedStep(round=k, step_index=i,
                    due_at=due_after(declared_at, period * k + step.after, zone),
                    notify=step.notify, template=step.template)
        for k in range(rounds) for i, step in enumerate(policy.steps)
    ]
    planned.sort(key=lambda s: (s.due_at, s.round, s.step_index))
    return planned


def followup_due(task: Task, declared_at: datetime, zone: str) -> datetime:
    """When a task is due (for a followup: when its message is sent); `zone` is the
    playbook's timezone, where its days are calendar days."""
    return due_after(declared_at, task.due, zone)
