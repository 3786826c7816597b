"""Property: the builder is deterministic and does not depend on the order of its input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.builder import build_checklist
from playbook.loader import load_playbook
from playbook.model import CommunityData, ContactData, IncidentInput

DEFAULT = Path(__file__).resolve().parents[2] / "playbook" / "default" / "playbook.yaml"
PB = load_playbook(DEFAULT)
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TAGS = ["islam", "judaism", "christian", "turkish", "moroccan", "interfaith", "refugees", "afro"]
KINDS = ["faith", "migrant", "neighbourhood", "youth"]
NAMES = ["alpha", "Alpha", "beta", "Beta", "gamma", "ALPHA", "delta"]
AREAS = [None, "BU09990201", "BU09990301", "WK099902", "noord/oud"]

# A community carrying every tag, so that the incidents' `tag` fields name an active one.
ANCHOR = CommunityData(id="anchor", name="Anchor", kind="migrant", tags=tuple(TAGS))

communities = st.lists(
    st.builds(
        CommunityData,
        id=st.text("abcdef", min_size=1, max_size=4),
        name=st.sampled_from(NAMES),
        kind=st.sampled_from(KINDS),
        tags=st.lists(st.sampled_from(TAGS), max_size=3, unique=True).map(tuple),
        languages=st.lists(st.sampled_from(["nl", "tr", "ar", "en"]), max_size=2,
                           unique=True).map(tuple),
        area=st.sampled_from(AREAS),
        lat=st.none() | st.floats(52.0, 52.2),
        lon=st.none() | st.floats(5.0, 5.2),
    ),
    max_size=12, unique_by=lambda c: c.id,
)


def contacts_for(ids: list[str]) -> st.SearchStrategy[list[ContactData]]:
    if not ids:
        return st.just([])
    return st.lists(
        st.builds(
            ContactData,
            id=st.text("pqrs", min_size=1, max_size=4),
            community_id=st.sampled_from(ids),
            name=st.sampled_from(NAMES),
            priority=st.integers(1, 3),
            phone=st.sampled_from([None, "+31600000001", "+31600000002"]),
            email=st.sampled_from([None, "a@example.org"]),
            channel=st.sampled_from(["sms", "email"]),
            language=st.sampled_from([None, "nl", "ar"]),
            consent=st.sampled_from([None, date(2026, 1, 1)]),
            active=st.booleans(),
        ),
        max_size=20, unique_by=lambda p: p.id,
    )


incidents = st.sampled_from([
    IncidentInput(type="attack_on_place_of_worship", declared_at=AT,
                  fields={"target_faith": "islam"}, area="WK099902"),
    IncidentInput(type="terrorist_attack", declared_at=AT, fields={"motive": "jihadist"}),
    IncidentInput(type="demonstration_tension", declared_at=AT,
                  fields={"concerns_group": "refugees"}, lat=52.1, lon=5.1),
    IncidentInput(type="youth_violent_death", declared_at=AT, area="WK099903",
                  fields={"background": "moroccan"}),
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), cs=communities, incident=incidents)
def test_shuffled_input_gives_the_same_checklist(data: st.DataObject, cs: list[CommunityData],
                                                 incident: IncidentInput) -> None:
    cs = [*cs, ANCHOR]  # holds every tag an incident names: `tag` fields are checked
    ps = data.draw(contacts_for([c.id for c in cs]))
    opted = frozenset({("sms", "+31600000002")})
    first = build_checklist(PB, incident, cs, ps, opted).to_json()
    again = build_checklist(PB, incident, cs, ps, opted).to_json()
    assert first == again
    shuffled_cs = data.draw(st.permutations(cs))
    shuffled_ps = data.draw(st.permutations(ps))
    assert build_checklist(PB, incident, shuffled_cs, shuffled_ps, opted).to_json() == first
