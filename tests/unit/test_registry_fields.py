"""Field types `community` and `tag` (PLAYBOOK.md), and the checklist's input warnings: no
community matched as affected, an area no community lies in. Also local time for people and
the loopback public URL warning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import Settings, load_settings
from engine.cli.times import local_time
from engine.playbooks.service import check_playbook, default_playbook_path
from engine.wiring import public_url_warning
from playbook.builder import build_checklist
from playbook.errors import IncidentInputError, PlaybookError
from playbook.loader import load_playbook
from playbook.model import CommunityData, IncidentInput, Playbook

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

PLAYBOOK = """\
playbook: {id: t, version: "1", name: Teststad, default_locale: nl, timezone: Europe/Amsterdam}
incident_types:
  hit:
    label: {nl: Aanval}
    fields:
      target: {type: community}
      group: {type: tag}
      faith: {type: enum, values: [islam, judaism]}
  plain:
    label: {nl: Anders}
rules:
  - id: hit-target
    when: incident.type == "hit"
    select: community.id == incident.fields.target or incident.fields["group"] in community.tags
    role: affected
  - id: hit-faith
    when: incident.type == "hit" and incident.fields.faith
    select: incident.fields.faith in community.tags
    role: at_risk
  - id: everyone
    select: "true"
    role: informed
tasks: {}
"""

COMMUNITIES = [
    CommunityData(id="moskee-annour", name="Moskee An-Nour", kind="faith",
                  tags=("islam", "mosque"), area="WK036301"),
    CommunityData(id="synagoge", name="Synagoge", kind="faith", tags=("judaism",),
                  area="WK036302"),
    CommunityData(id="buurt-noord", name="Buurtvereniging Noord", kind="neighbourhood",
                  tags=("residents",), area="noord/oud-noord"),
]


@pytest.fixture
def pb(tmp_path: Path) -> Playbook:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def build(pb: Playbook, **fields: object) -> dict:
    area = fields.pop("area", None)
    itype = str(fields.pop("type", "hit"))
    incident = IncidentInput(type=itype, declared_at=AT, fields=fields,
                             area=area if isinstance(area, str) else None)
    return build_checklist(pb, incident, COMMUNITIES, []).to_json()


def input_warnings(doc: dict) -> list[dict]:
    """The warnings about the incident's input (the builder puts them first)."""
    return [d for d in doc["warning_details"] if d["code"] in ("no_affected",
                                                                "area_without_communities")]


def refused(pb: Playbook, **fields: object) -> list[str]:
    with pytest.raises(IncidentInputError) as caught:
        build(pb, **fields)
    return caught.value.problems


def test_a_community_typo_is_refused_naming_the_closest_ids(pb: Playbook) -> None:
    [problem] = refused(pb, target="moskee-anour")
    assert problem.startswith("field 'target': 'moskee-anour' is not the id of an active "
                              "community")
    assert "did you mean 'moskee-annour'" in problem


def test_a_community_is_found_by_its_name_too(pb: Playbook) -> None:
    [problem] = refused(pb, target="synagogue")
    assert "'synagoge'" in problem


def test_a_tag_typo_is_refused_naming_the_closest_tags(pb: Playbook) -> None:
    [problem] = refused(pb, group="islaam")
    assert problem == ("field 'group': no active community carries the tag 'islaam' "
                       "(did you mean 'islam'?)")


def test_a_tag_without_a_close_one_lists_the_known_tags(pb: Playbook) -> None:
    [problem] = refused(pb, group="moslim")
    assert problem.endswith("(known: islam, judaism, mosque, residents)")


def test_both_fields_wrong_are_both_named(pb: Playbook) -> None:
    problems = refused(pb, target="nope", group="nope")
    assert [p.split(":")[0] for p in problems] == ["field 'target'", "field 'group'"]


def test_known_values_pass_and_match(pb: Playbook) -> None:
    doc = build(pb, target="moskee-annour")
    first = doc["communities"][0]
    assert (first["id"], first["role"]) == ("moskee-annour", "affected")
    assert input_warnings(doc) == []
    doc = build(pb, group="judaism")
    assert doc["communities"][0]["id"] == "synagoge"


def test_no_affected_match_warns_naming_the_fields_to_check(pb: Playbook) -> None:
    doc = build(pb, faith="islam")
    assert doc["warning_details"][0] == {"code": "no_affected",
                                         "check": ["--field target", "--field group"]}
    assert doc["warnings"][0] == ("geen gemeenschap als getroffen (affected) gevonden / no "
                                  "community matched as affected: check --field target, "
                                  "--field group")


def test_a_type_without_affected_rules_has_no_such_warning(pb: Playbook) -> None:
    assert input_warnings(build(pb, type="plain")) == []


def test_an_area_no_community_lies_in_is_a_warning_first(pb: Playbook) -> None:
    doc = build(pb, target="moskee-annour", area="WK099999")
    assert doc["warning_details"][0] == {"code": "area_without_communities", "area": "WK099999"}
    assert "WK099999" in doc["warnings"][0] and "no community lies in this area" in \
        doc["warnings"][0]


@pytest.mark.parametrize("area", ["WK036301", "GM0363", "noord", "noord/oud-noord"])
def test_an_area_a_community_lies_in_is_no_warning(pb: Playbook, area: str) -> None:
    assert input_warnings(build(pb, target="moskee-annour", area=area)) == []


def test_field_types_are_known_to_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    assert check_playbook(path=path).ok
    bad = PLAYBOOK.replace("{type: tag}", "{type: tag, values: [a]}").replace(
        "{type: community}", "{type: comunity}")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    texts = [str(p) for p in caught.value.problems]
    assert any("unknown field type 'comunity'" in t and "did you mean 'community'" in t
               for t in texts)
    assert any("values are only for type enum" in t for t in texts)


def test_the_default_playbook_types_its_community_and_tag_fields() -> None:
    pb = load_playbook(default_playbook_path())
    types = {(t, name): f.type for t, it in pb.incident_types.items()
             for name, f in it.fields.items()}
    assert types[("attack_on_place_of_worship", "target_community")] == "community"
    assert types[("attack_on_place_of_worship", "target_faith")] == "enum"
    for key in [("hate_crime", "targeted_group"), ("terrorist_attack", "targeted_group"),
                ("polarising_event_abroad", "origin"),
                ("demonstration_tension", "concerns_group"),
                ("youth_violent_death", "background")]:
        assert types[key] == "tag", key
    assert "string" not in types.values()


# --- local time ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    ("2026-03-29T01:10:00Z", "2026-03-29 03:10 +02:00"),  # just after the clocks went forward
    ("2026-03-29T00:10:00Z", "2026-03-29 01:10 +01:00"),
    ("2026-10-25T00:30:00Z", "2026-10-25 02:30 +02:00"),  # the hour that comes twice
    ("2026-10-25T01:30:00Z", "2026-10-25 02:30 +01:00"),
    (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "2026-03-01 10:00 +01:00"),
    (None, "-"),
    ("not a time", "not a time"),
])
def test_local_time_shows_the_offset(value: object, shown: str) -> None:
    assert local_time(value, "Europe/Amsterdam") == shown  # type: ignore[arg-type]


def test_local_time_in_an_unknown_zone_is_utc() -> None:
    assert local_time("2026-03-01T09:00:00Z", "Nowhere/Never") == "2026-03-01 09:00 +00:00"


# --- public URL at start -----------------------------------------------------------------------


def settings(**values: str) -> Settings:
    return load_settings(values, dotenv_path=None)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000",
                                 "https://[::1]/", "http://127.1.2.3"])
def test_twilio_with_a_loopback_public_url_warns(url: str) -> None:
    warning = public_url_warning(settings(TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                                          TWILIO_AUTH_TOKEN="t" * 32, VERBINDER_PUBLIC_URL=url))
    assert warning is not None and url in warning and "loopback" in warning


def test_no_warning_without_twilio_or_with_a_public_url() -> None:
    assert public_url_warning(settings(VERBINDER_PUBLIC_URL="http://127.0.0.1:8000")) is None
    assert public_url_warning(settings(TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                                       TWILIO_AUTH_TOKEN="t" * 32,
                                       VERBINDER_PUBLIC_URL="https://verbinder.example.org")
                              ) is None
