"""Trying a playbook's rules and templates on made-up data before any incident uses them.

An expression or template that blows its budget whatever the data (`([x]*10000)|join`, a loop
inside a loop over ten thousand items) is better refused by `playbook check` than met once per
community while an incident is being declared. Each rule's `when` and `select` is evaluated
for every incident type against two made-up communities, and each template text is rendered
with made-up names; what exceeds the budget (or recurses without end) becomes a problem at the
rule's or the text's position. Any other error is left alone: it may depend on the data, and
PLAYBOOK.md makes it a warning at declaration time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from playbook.budget import BudgetExceeded
from playbook.builder import community_record, incident_record, resolve_incident
from playbook.errors import Problem
from playbook.model import CommunityData, ContactData, IncidentInput, Playbook, TemplateText
from playbook.render import message_context, plain
from playbook.yamlpos import parse_yaml

_OVER_BUDGET = (BudgetExceeded, RecursionError, MemoryError)
_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_COMMUNITIES = (
    CommunityData("probe-1", "Voorbeeldgemeenschap", "faith", ("islam", "turkish", "mosque"),
                  ("tr", "nl"), "BU00010101", 52.09, 5.12,
                  attributes={"organisation_type": "mosque"}),
    CommunityData("probe-2", "Buurtvereniging", "neighbourhood"),
)
_CONTACT = ContactData("probe-p1", "probe-1", "Voorbeeld Persoon", language="nl")


def probe_playbook(playbook: Playbook, file: str) -> list[Problem]:
    """Problems of rules and templates that exceed their budget on made-up data."""
    problems = _probe_rules(playbook, file)
    problems.extend(_probe_templates(playbook))
    return sorted(set(problems))


def _incidents(playbook: Playbook) -> list[Any]:
    out = []
    for itype in playbook.incident_types.values():
        fields = {name: _sample_value(spec.type, spec.values)
                  for name, spec in itype.fields.items()}
        incident = resolve_incident(playbook, IncidentInput(
            type=itype.id, declared_at=_AT, area="WK000101", lat=52.09, lon=5.12,
            fields=fields))
        out.append(incident)
    return out


def _sample_value(kind: str, values: tuple[str, ...]) -> Any:
    if kind == "int":
        return 1
    if kind == "bool":
        return True
    if values:
        return values[0]
    return "islam"


def _probe_rules(playbook: Playbook, file: str) -> list[Problem]:
    problems: list[Problem] = []
    incidents = [incident_record(playbook, i) for i in _incidents(playbook)]
    communities = [community_record(c) for c in _COMMUNITIES]
    for rule in playbook.rules:
        for part, expression in (("when", rule.when_expr), ("select", rule.select_expr)):
            if expression is None:
                continue
            error = _first_budget_error(expression, incidents, communities)
            if error is not None:
                line, column = _position(playbook, rule.line, part)
                problems.append(Problem(file, line, column, (
                    f"rule '{rule.id}': its '{part}' exceeds the expression budget on sample "
                    f"data: {error}")))
    return problems


def _position(playbook: Playbook, rule_line: int, part: str) -> tuple[int, int]:
    """Where a rule's `when` or `select` is written (the rule's line if it cannot be found)."""
    root, _ = parse_yaml(playbook.files.get(playbook.main, ""), playbook.main)
    rules = root.value.get("rules") if root is not None and root.is_map else None
    for item in rules.value if rules is not None and rules.is_list else ():
        if item.line == rule_line and item.is_map and part in item.value:
            value = item.value[part]
            return value.line, value.column
    return rule_line, 1


def _first_budget_error(expression: Any, incidents: list[Any],
                        communities: list[Any]) -> str | None:
    for incident in incidents:
        run = expression.binder({"incident": incident})
        for community in communities:
            try:
                run("community", community)
            except _OVER_BUDGET as exc:
                return _describe(exc)
            except Exception:  # depends on the data: a warning when declaring
                continue
    return None


def _probe_templates(playbook: Playbook) -> list[Problem]:
    problems: list[Problem] = []
    incidents = _incidents(playbook)
    if not incidents:
        return problems
    context = _template_names(playbook, incidents[0])
    for template in playbook.templates.values():
        parts = (("sms", template.sms), ("email subject", template.subject),
                 ("email body", template.body), ("email html", template.html))
        for part, texts in parts:
            for locale, text in texts.items():
                error = _render_error(text, context)
                if error is not None:
                    problems.append(Problem(text.file, text.line, 1, (
                        f"template '{template.id}': {part} ({locale}) exceeds the template "
                        f"budget on sample data: {error}")))
    return problems


def _template_names(playbook: Playbook, incident: Any) -> dict[str, Any]:
    not_reached = [{"id": c.id, "name": c.name, "contacts": [
        {"name": _CONTACT.name, "channel": "sms", "address": "+31600000000"}]}
        for c in _COMMUNITIES]
    context = message_context(playbook, incident, community=_COMMUNITIES[0], contact=_CONTACT,
                              intake_url="https://verbinder.example.org/i/probe",
                              ack_url="https://verbinder.example.org/a/probe",
                              not_reached=not_reached)
    context["communities"] = [context["community"]]
    context["escalation_note"] = None
    context["answers"] = {  # what an intake alert's template sees (PLAYBOOK.md, intake_forms)
        "needs": {"question": "needs", "label": "?", "options": ["security"],
                  "texts": ["x" * 40], "text": "x" * 40},
        "remarks": {"question": "remarks", "label": "?", "options": [], "texts": [],
                    "text": "x" * 2000}}
    return {key: plain(value) for key, value in context.items()}


def _render_error(text: TemplateText, context: dict[str, Any]) -> str | None:
    try:
        text.template().render(context)
    except _OVER_BUDGET as exc:
        return _describe(exc)
    except Exception:  # depends on the data, or a matter for sending
        return None
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it recurses without end"
    if isinstance(exc, MemoryError):
        return "it runs out of memory"
    return str(exc)


__all__ = ["probe_playbook"]
