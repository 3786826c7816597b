"""The checklist builder: every rule of PLAYBOOK.md's semantics and checklist sections."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from playbook.builder import (
    build_checklist,
    coerce_fields,
    followup_due,
    plan_steps,
    validate_incident,
)
from playbook.errors import IncidentInputError
from playbook.loader import load_playbook
from playbook.model import CommunityData, ContactData, IncidentInput, Playbook

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

BASE = """\
playbook: {id: test, version: "1", name: Teststad, default_locale: nl, timezone: Europe/Amsterdam}
DEFAULTS
incident_types:
  attack:
    label: {nl: Aanval, en: Attack}
    default_severity: 2
    fields:
      faith: {type: string}
      count: {type: int}
      big: {type: bool}
      reach: {type: enum, values: [local, national]}
  other:
    label: {nl: Anders}
    fields:
      who: {type: string, required: true}
rules:
RULES
tasks:
  t1: {title: {nl: Taak een, en: Task one}, due: 1h, kind: outreach}
  t2: {title: {nl: Taak twee}, due: 30m, kind: action}
  t3: {title: {nl: Taak drie}, due: P1D, kind: action}
  t4: {title: {nl: Taak vier}, due: 90s, kind: action}
  fu: {title: {nl: Nazorg}, due: 7d, kind: followup, template: msg}
escalation_policies:
  std:
    steps:
      - {after: 0m, notify: primary, template: msg}
      - {after: 15m, notify: backup, template: msg}
    repeat: 2
    period: 2h
  alt: {steps: [{after: 0m, notify: primary, template: msg}]}
  light: {steps: [{after: 0m, notify: all_contacts, template: msg}]}
templates:
  msg: {sms: {nl: "Hallo", en: "Hello"}}
"""


def make(tmp_path: Path, rules: str, defaults: str = "defaults: {escalation: std}") -> Playbook:
    """A playbook with the given rules (YAML list items, indented two spaces)."""
    text = BASE.replace("DEFAULTS", defaults).replace(
        "RULES", textwrap.indent(textwrap.dedent(rules).strip("\n"), "  "))
    path = tmp_path / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    return load_playbook(path)


def community(cid: str, name: str | None = None, **kw: object) -> CommunityData:
    """A community with defaults."""
    return CommunityData(id=cid, name=name or cid, kind=kw.pop("kind", "faith"), **kw)


def contact(pid: str, cid: str, **kw: object) -> ContactData:
    """An eligible contact by default (active, consent, phone)."""
    kw.setdefault("phone", "+31600000" + pid[-3:].rjust(3, "0"))
    kw.setdefault("consent", date(2026, 1, 1))
    return ContactData(id=pid, community_id=cid, name=kw.pop("name", pid.upper()), **kw)


def incident(**kw: object) -> IncidentInput:
    """An 'attack' incident at AT."""
    kw.setdefault("type", "attack")
    kw.setdefault("declared_at", AT)
    return IncidentInput(**kw)


def ids(doc: dict) -> list[str]:
    return [c["id"] for c in doc["communities"]]


# --- rules: when, select, incident tasks -------------------------------------------------------


def test_when_is_evaluated_and_a_rule_without_when_always_applies(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: never, when: incident.severity > 4, select: "true", role: affected, tasks: [t1]}
        - {id: always, select: "true", role: informed, tasks: [t2]}
    """)
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["rules"] == ["always"]
    assert doc["communities"][0]["role"] == "informed"


def test_select_matches_each_community_for_which_it_is_true(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: r, select: 'incident.fields.faith in community.tags', role: affected, tasks: [t1]}
    """)
    cs = [community("a", tags=("islam",)), community("b", tags=("judaism",)),
          community("c", tags=("islam", "turkish"))]
    doc = build_checklist(pb, incident(fields={"faith": "islam"}), cs, []).to_json()
    assert ids(doc) == ["a", "c"]


def test_unmatched_communities_are_absent(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'false', role: affected}")
    assert build_checklist(pb, incident(), [community("a")], []).to_json()["communities"] == []


def test_rules_without_select_give_incident_tasks_in_first_appearance_order(
    tmp_path: Path,
) -> None:
    pb = make(tmp_path, """
        - {id: a, tasks: [t3, t1]}
        - {id: b, when: 'false', tasks: [t4]}
        - {id: c, tasks: [t2, t3, t1]}
    """)
    doc = build_checklist(pb, incident(), [community("x")], []).to_json()
    assert [t["id"] for t in doc["incident_tasks"]] == ["t3", "t1", "t2"]
    assert doc["communities"] == []  # a rule without select matches no community
    assert doc["incident_tasks"][0] == {"id": "t3", "title": "Taak drie",
                                        "due": "2026-03-02T09:00:00Z", "kind": "action",
                                        "owner": None}


def test_a_community_matched_by_several_rules_appears_once_with_highest_role(
    tmp_path: Path,
) -> None:
    pb = make(tmp_path, """
        - {id: r1, select: 'true', role: informed, tasks: [t2]}
        - {id: r2, select: 'true', role: at_risk, tasks: [t1]}
        - {id: r3, select: 'true', role: bridging, tasks: [t3, t2]}
    """)
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert len(doc["communities"]) == 1
    item = doc["communities"][0]
    assert item["role"] == "at_risk"
    assert item["rules"] == ["r1", "r2", "r3"]
    assert [t["id"] for t in item["tasks"]] == ["t2", "t1", "t3"]


@pytest.mark.parametrize(("roles", "expected"), [
    (["informed", "bridging"], "bridging"),
    (["bridging", "at_risk"], "at_risk"),
    (["at_risk", "affected"], "affected"),
    (["affected", "informed"], "affected"),
])
def test_role_precedence(tmp_path: Path, roles: list[str], expected: str) -> None:
    rules = "\n".join(f"- {{id: r{n}, select: 'true', role: {role}}}"
                      for n, role in enumerate(roles))
    pb = make(tmp_path, rules)
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["role"] == expected


def test_task_due_is_declaration_plus_due_in_utc(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected, tasks: [t1, t2, t3, t4, fu]}")
    at = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    doc = build_checklist(pb, incident(declared_at=at), [community("a")], []).to_json()
    assert doc["incident"]["declared_at"] == "2026-03-01T09:00:00Z"
    assert [t["due"] for t in doc["communities"][0]["tasks"]] == [
        "2026-03-01T10:00:00Z", "2026-03-01T09:30:00Z", "2026-03-02T09:00:00Z",
        "2026-03-01T09:01:30Z", "2026-03-08T09:00:00Z"]


def test_titles_are_in_the_default_locale(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected, tasks: [t1]}")
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["tasks"][0]["title"] == "Taak een"
    assert doc["incident"]["title"] == "Aanval"  # the type's label when no title is given


# --- escalation choice ---------------------------------------------------------------------


def test_escalation_is_the_first_rule_with_the_highest_role_that_names_one(
    tmp_path: Path,
) -> None:
    pb = make(tmp_path, """
        - {id: r1, select: 'true', role: informed, escalation: light}
        - {id: r2, select: 'true', role: affected}
        - {id: r3, select: 'true', role: affected, escalation: alt}
        - {id: r4, select: 'true', role: affected, escalation: std}
    """)
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["escalation"] == "alt"


def test_escalation_falls_back_to_defaults_then_none(tmp_path: Path) -> None:
    rules = """
        - {id: r1, select: 'true', role: informed, escalation: light}
        - {id: r2, select: 'true', role: affected}
    """
    doc = build_checklist(make(tmp_path, rules), incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["escalation"] == "std"  # r1's policy is of a lower role
    pb = make(tmp_path, rules, defaults="")
    doc = build_checklist(pb, incident(), [community("a")], []).to_json()
    assert doc["communities"][0]["escalation"] is None


# --- ordering ------------------------------------------------------------------------------


def test_communities_ordered_by_role_then_name_case_insensitive_then_id(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: hit, select: 'community.kind == "x"', role: affected}
        - {id: all, select: 'true', role: bridging}
    """)
    cs = [community("c3", "beta"), community("c2", "Alpha"), community("c1", "alpha"),
          community("c9", "Zulu", kind="x"), community("c0", "gamma")]
    doc = build_checklist(pb, incident(), cs, []).to_json()
    assert ids(doc) == ["c9", "c1", "c2", "c3", "c0"]


def test_contacts_ordered_by_priority_then_name_then_id(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected}")
    ps = [contact("p4", "a", priority=2, name="Anna"), contact("p3", "a", name="Bert"),
          contact("p2", "a", name="Anna"), contact("p1", "a", name="Anna")]
    doc = build_checklist(pb, incident(), [community("a")], ps).to_json()
    assert [p["id"] for p in doc["communities"][0]["contacts"]] == ["p1", "p2", "p3", "p4"]


# --- eligibility, channel, language, warnings ----------------------------------------------


def test_only_eligible_contacts_and_left_out_counted_per_community(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected}")
    ps = [
        contact("p1", "a"),
        contact("p2", "a", active=False),
        contact("p3", "a", consent=None),
        contact("p4", "a", phone=None, email=None),
        contact("p5", "b", consent=None),
    ]
    doc = build_checklist(pb, incident(), [community("a", "Alfa"), community("b", "Beta")],
                          ps).to_json()
    assert [p["id"] for p in doc["communities"][0]["contacts"]] == ["p1"]
    assert doc["communities"][1]["contacts"] == []
    warnings = doc["warnings"]
    assert any("Alfa (a)" in w and "3 contacts left out" in w for w in warnings)
    assert any("Beta (b)" in w and "1 contact left out" in w for w in warnings)
    assert any("Beta (b)" in w and "no eligible contact" in w for w in warnings)
    assert not any("Alfa (a)" in w and "no eligible contact" in w for w in warnings)


def test_contacts_of_unmatched_communities_give_no_warning(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'community.id == \"a\"', role: affected}")
    ps = [contact("p1", "a"), contact("p2", "b", consent=None)]
    doc = build_checklist(pb, incident(), [community("a"), community("b")], ps).to_json()
    assert doc["warnings"] == []


def test_channel_is_preferred_when_usable_else_the_other(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected}")
    ps = [
        contact("p1", "a", channel="email", email="p1@example.org"),
        contact("p2", "a", channel="email"),  # no email: the phone
        contact("p3", "a", channel="sms", phone=None, email="p3@example.org"),
        contact("p4", "a", channel="sms", phone="+31600000004", email="p4@example.org"),
        contact("p5", "a", channel="sms", phone="+31600000005"),  # opted out of sms, no email
    ]
    opted = frozenset({("sms", "+31600000004"), ("sms", "+31600000005")})
    doc = build_checklist(pb, incident(), [community("a")], ps, opted).to_json()
    got = {p["id"]: p["channel"] for p in doc["communities"][0]["contacts"]}
    assert got == {"p1": "email", "p2": "sms", "p3": "email", "p4": "email"}
    assert any("1 contact left out (1 opted out)" in w for w in doc["warnings"])


def test_language_contact_else_community_first_else_default(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'true', role: affected}")
    cs = [community("a", languages=("tr", "nl")), community("b")]
    ps = [contact("p1", "a", language="ar"), contact("p2", "a"), contact("p3", "b")]
    doc = build_checklist(pb, incident(), cs, ps).to_json()
    langs = {p["id"]: p["language"] for c in doc["communities"] for p in c["contacts"]}
    assert langs == {"p1": "ar", "p2": "tr", "p3": "nl"}


# --- raising expressions and undefined -----------------------------------------------------


def test_a_select_that_raises_for_one_community_does_not_match_it_and_warns(
    tmp_path: Path,
) -> None:
    pb = make(tmp_path, """
        - id: by-size
          select: 'community.attributes.size | int > 3 and community.lat < 53'
          role: affected
        - {id: all, select: 'true', role: informed}
    """)
    cs = [community("a", lat=52.0, attributes={"size": "5"}),
          community("b", attributes={"size": "9"})]  # lat is none: none < 53 raises
    doc = build_checklist(pb, incident(), cs, []).to_json()
    roles = {c["id"]: c["role"] for c in doc["communities"]}
    assert roles == {"a": "affected", "b": "informed"}
    assert any("by-size" in w and "1 community" in w and "(b)" in w for w in doc["warnings"])


def test_a_when_that_raises_means_the_rule_does_not_apply_with_a_warning(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: broken, when: 'incident.lat < 3', tasks: [t1]}
        - {id: fine, tasks: [t2]}
    """)
    doc = build_checklist(pb, incident(), [], []).to_json()
    assert [t["id"] for t in doc["incident_tasks"]] == ["t2"]
    assert len(doc["warnings"]) == 1 and "broken" in doc["warnings"][0]


def test_a_missing_attribute_simply_does_not_match(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: r, select: 'community.attributes.faith == "islam"', role: affected}
        - {id: s, select: '"x" in community.attributes.missing', role: affected}
    """)
    cs = [community("a", attributes={"faith": "islam"}), community("b")]
    doc = build_checklist(pb, incident(), cs, []).to_json()
    assert ids(doc) == ["a"]
    assert not any("'r'" in w or "'s'" in w for w in doc["warnings"])


def test_missing_declared_field_is_undefined_not_an_error(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, select: 'incident.fields.faith in community.tags', "
                        "role: affected}")
    doc = build_checklist(pb, incident(), [community("a", tags=("islam",))], []).to_json()
    assert doc["communities"] == []
    # The only warning: an affected rule that matched nobody names the field it reads.
    assert [w["code"] for w in doc["warning_details"]] == ["no_affected"]
    assert doc["warning_details"][0]["check"] == ["--field faith"]


def test_within_and_distance_in_rules(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: area, select: 'within(community.area, incident.area)', role: affected}
        - id: near
          select: >-
            distance_km(community, incident) is not none
            and distance_km(community, incident) < 2
          role: informed
    """)
    cs = [community("in", area="BU03630101"), community("out", area="BU03640101"),
          community("near", lat=52.37, lon=4.90), community("far", lat=51.0, lon=4.0)]
    doc = build_checklist(pb, incident(area="WK036301", lat=52.371, lon=4.901), cs,
                          []).to_json()
    assert {c["id"]: c["role"] for c in doc["communities"]} == {"in": "affected",
                                                                "near": "informed"}


# --- the document --------------------------------------------------------------------------


def test_document_shape(tmp_path: Path) -> None:
    pb = make(tmp_path, """
        - {id: crisis, when: incident.severity >= 2, tasks: [t2]}
        - {id: r, select: 'true', role: affected, tasks: [t1], escalation: alt}
    """)
    doc = build_checklist(pb, incident(title="Brand", area="WK036301",
                                       fields={"faith": "islam"}),
                          [community("c1", "Een", area="WK03630101")],
                          [contact("p1", "c1", language="ar")]).to_json()
    assert doc["incident"] == {
        "type": "attack", "title": "Brand", "label": "Aanval", "severity": 2,
        "area": "WK036301", "lat": None, "lon": None, "fields": {"faith": "islam"},
        "exercise": False, "declared_at": "2026-03-01T09:00:00Z",
        "playbook": {"id": "test", "version": "1", "digest": pb.digest},
    }
    assert doc["incident_tasks"] == [{"id": "t2", "title": "Taak twee",
                                      "due": "2026-03-01T09:30:00Z", "kind": "action",
                                      "owner": None}]
    assert doc["communities"] == [{
        "id": "c1", "name": "Een", "kind": "faith", "role": "affected", "rules": ["r"],
        "escalation": "alt",
        "contacts": [{"id": "p1", "name": "P1", "priority": 1, "channel": "sms",
                      "language": "ar"}],
        "tasks": [{"id": "t1", "title": "Taak een", "due": "2026-03-01T10:00:00Z",
                   "kind": "outreach", "owner": None}],
    }]
    assert doc["warnings"] == []
    assert pb.digest.startswith("sha256:") and len(pb.digest) == 71


def test_severity_default_from_type_and_given_severity_kept(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, when: 'incident.severity == 5', tasks: [t1]}")
    assert build_checklist(pb, incident(), [], []).to_json()["incident"]["severity"] == 2
    doc = build_checklist(pb, incident(severity=5), [], []).to_json()
    assert doc["incident"]["severity"] == 5 and doc["incident_tasks"][0]["id"] == "t1"


# --- incident input ------------------------------------------------------------------------


def test_validate_incident_names_each_field(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, tasks: [t1]}")
    assert validate_incident(pb, incident(type="nope"))[0].startswith(
        "unknown incident type 'nope'")
    problems = validate_incident(pb, incident(type="other", fields={"x": 1}))
    assert any("'who'" in p and "required" in p for p in problems)
    assert any("'x'" in p and "not defined" in p for p in problems)
    problems = validate_incident(pb, incident(fields={"count": "3", "big": 1, "reach": "mars",
                                                      "faith": 7}))
    assert {p.split(":")[0] for p in problems} == {"field 'count'", "field 'big'",
                                                   "field 'reach'", "field 'faith'"}
    with pytest.raises(IncidentInputError):
        build_checklist(pb, incident(type="other"), [], [])


def test_coerce_fields_from_strings(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, tasks: [t1]}")
    itype = pb.incident_types["attack"]
    assert coerce_fields(itype, {"count": "3", "big": "true", "reach": "local",
                                 "faith": "islam"}) == {"count": 3, "big": True,
                                                        "reach": "local", "faith": "islam"}
    assert coerce_fields(itype, {"big": "nee"}) == {"big": False}
    with pytest.raises(IncidentInputError) as err:
        coerce_fields(itype, {"count": "drie", "big": "misschien", "reach": "mars", "zz": "1"})
    text = "\n".join(err.value.problems)
    for name in ("count", "big", "reach", "zz"):
        assert f"'{name}'" in text


# --- timers --------------------------------------------------------------------------------


def test_plan_steps_rounds_start_k_periods_after_declaration(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, tasks: [t1]}")
    planned = plan_steps(pb.policies["std"], AT, pb.timezone)
    assert [(s.round, s.step_index, s.due_at - AT) for s in planned] == [
        (0, 0, timedelta(0)), (0, 1, timedelta(minutes=15)),
        (1, 0, timedelta(hours=2)), (1, 1, timedelta(hours=2, minutes=15)),
        (2, 0, timedelta(hours=4)), (2, 1, timedelta(hours=4, minutes=15)),
    ]
    assert [s.notify for s in planned[:2]] == ["primary", "backup"]
    assert len(plan_steps(pb.policies["alt"], AT, pb.timezone)) == 1


def test_followup_due(tmp_path: Path) -> None:
    pb = make(tmp_path, "- {id: r, tasks: [t1]}")
    assert followup_due(pb.tasks["fu"], AT, pb.timezone) == AT + timedelta(days=7)
