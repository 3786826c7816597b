"""The shipped default playbook on the sample registry: a sensible checklist per incident type."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playbook.builder import build_checklist
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from playbook.render import language_chain, message_context, render_message

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "sample_registry", ROOT / "tests" / "fixtures" / "playbooks" / "sample_registry.py")
sample = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(sample)  # type: ignore[union-attr]

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PB = load_playbook(ROOT / "playbook" / "default" / "playbook.yaml")
COMMUNITIES = sample.sample_communities()
CONTACTS = sample.sample_contacts()


def checklist(type_: str, fields: dict, area: str | None = None, **kw: object) -> dict:
    incident = IncidentInput(type=type_, declared_at=AT, fields=fields, area=area, **kw)
    return build_checklist(PB, incident, COMMUNITIES, CONTACTS).to_json()


def roles(doc: dict) -> dict[str, str]:
    return {c["id"]: c["role"] for c in doc["communities"]}


def test_attack_on_a_mosque() -> None:
    doc = checklist("attack_on_place_of_worship",
                    {"target_faith": "islam", "target_community": "moskee-annour"})
    r = roles(doc)
    assert r["moskee-annour"] == "affected"
    assert r["moskee-ayasofya"] == r["moskee-taibah"] == "at_risk"
    assert r["synagoge-lj"] == r["interreligieus"] == "bridging"
    assert doc["communities"][0]["id"] == "moskee-annour"
    tasks = [t["id"] for t in doc["communities"][0]["tasks"]]
    assert tasks[0] == "first-contact"
    assert {"needs-intake", "aftercare-d1", "aftercare-d7", "aftercare-d30"} <= set(tasks)
    assert doc["communities"][0]["escalation"] == "standard"
    assert [t["id"] for t in doc["incident_tasks"]][:2] == ["inform-crisis-team",
                                                             "mayor-statement"]


def test_vandalism_at_a_synagogue_by_area() -> None:
    doc = checklist("attack_on_place_of_worship", {"target_faith": "judaism"},
                    area="BU09990102", severity=2)
    r = roles(doc)
    assert r["synagoge-lj"] == "affected"
    assert r["chabad"] == r["joodse-jongeren"] == "at_risk"
    assert doc["incident_tasks"] == []  # severity 2: no crisis team, no neutral meeting
    assert any("chabad" in w and "no eligible contact" in w for w in doc["warnings"])


def test_hate_crime() -> None:
    doc = checklist("hate_crime", {"targeted_group": "lgbti"}, area="WK099901")
    r = roles(doc)
    assert r["coc"] == "affected"
    assert r["interreligieus"] == r["afro-stichting"] == "bridging"


def test_jihadist_attack_puts_muslim_and_jewish_communities_at_risk() -> None:
    doc = checklist("terrorist_attack", {"motive": "jihadist"})
    r = roles(doc)
    for cid in ("moskee-annour", "moskee-ayasofya", "somali-vereniging", "synagoge-lj"):
        assert r[cid] == "at_risk"
    assert r["interreligieus"] == "bridging"
    assert r["parochie-martinus"] == "informed"
    assert "affected" not in r.values()
    assert doc["incident"]["severity"] == 5


def test_far_right_attack() -> None:
    r = roles(checklist("terrorist_attack", {"motive": "far_right", "targeted_group": "afro"}))
    assert r["afro-stichting"] == r["surinaams-forum"] == "affected"
    assert r["moskee-annour"] == r["syrisch-platform"] == "at_risk"


@pytest.mark.parametrize(("fields", "affected"), [
    ({"event": "earthquake", "origin": "turkish"}, {"moskee-ayasofya", "tr-vereniging"}),
    ({"event": "war", "origin": "ukrainian"}, {"oekraine-hulp"}),
    ({"event": "quran_burning"},
     {"moskee-ayasofya", "moskee-annour", "moskee-taibah", "somali-vereniging"}),
    ({"event": "war", "origin": "syrian"}, {"syrisch-platform"}),
])
def test_polarising_event_abroad(fields: dict, affected: set[str]) -> None:
    r = roles(checklist("polarising_event_abroad", fields))
    assert {cid for cid, role in r.items() if role == "affected"} == affected
    assert r["interreligieus"] == "bridging"


def test_demonstration_tension() -> None:
    doc = checklist("demonstration_tension", {"concerns_group": "refugees"}, area="WK099902")
    r = roles(doc)
    assert r["syrisch-platform"] == r["eritrese-gemeenschap"] == "at_risk"
    assert r["buurt-noord"] == "informed"  # BU09990201 lies in WK099902
    assert doc["communities"][-1]["escalation"] == "informed"


def test_demonstration_by_position() -> None:
    r = roles(checklist("demonstration_tension", {}, lat=52.0931, lon=5.1102))
    assert r["moskee-ayasofya"] == "informed"
    assert "moskee-taibah" not in r  # about 2.6 km away


def test_violent_death_of_a_young_person() -> None:
    doc = checklist("youth_violent_death", {"background": "moroccan"}, area="WK099903")
    r = roles(doc)
    assert r["wijkraad-oost"] == r["jongerencentrum"] == r["ma-vrouwen"] == "affected"
    assert r["pkn-oost"] == "bridging"
    assert any("jongerencentrum" in w for w in doc["warnings"])


def test_every_type_gives_a_checklist_without_rule_warnings() -> None:
    examples = {
        "attack_on_place_of_worship": {"target_faith": "christian"},
        "hate_crime": {"targeted_group": "judaism"},
        "terrorist_attack": {"motive": "unknown"},
        "polarising_event_abroad": {"event": "other"},
        "demonstration_tension": {},
        "youth_violent_death": {},
    }
    assert set(examples) == set(PB.incident_types)
    for type_, fields in examples.items():
        doc = checklist(type_, fields)
        assert not any(w.startswith("rule ") for w in doc["warnings"]), type_


def test_sms_texts_say_nothing_about_religion_or_origin() -> None:
    words = ("moskee", "mosque", "islam", "joods", "jewish", "kerk", "church", "turk",
             "marok", "moroc", "religi", "geloof", "faith", "cami", "مسجد")
    incident = IncidentInput(type="hate_crime", declared_at=AT, title="Incident Oost",
                             fields={"targeted_group": "islam"})
    mosque = next(c for c in COMMUNITIES if c.id == "moskee-ayasofya")
    for template in PB.templates.values():
        for locale in template.sms:
            if template.id in ("not_reached_staff", "need_stated"):
                continue  # staff messages name the community on purpose
            body = render_message(
                PB, template.id, "sms", language_chain=[locale],
                context=message_context(PB, incident, community=mosque)).body.lower()
            assert not any(word in body for word in words), (template.id, locale, body)


def test_every_first_contact_sms_asks_for_an_acknowledgement() -> None:
    incident = IncidentInput(type="hate_crime", declared_at=AT, fields={"targeted_group": "x"})
    answers = {"nl": "OK", "en": "OK", "tr": "TAMAM", "ar": "نعم"}
    for locale, word in answers.items():
        body = render_message(PB, "first_contact", "sms", language_chain=language_chain(
            locale, [], "nl"), context=message_context(PB, incident)).body
        assert word in body, locale
