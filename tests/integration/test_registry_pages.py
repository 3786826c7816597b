"""The verbs behind the dashboard's registry and peace-time pages, on SQLite and PostgreSQL:
searching communities, one community's data, and its peace time on one page (the same
readiness and due status as the whole-registry reports, notes only when asked for)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.peacetime import service as peacetime
from engine.registry import service as registry
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "fixtures" / "peacetime" / "playbook.yaml"
REGISTRY = ROOT / "tests" / "fixtures" / "peacetime_registry"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(any_engine: Engine) -> Engine:
    import_registry(any_engine, [REGISTRY], clock=FakeClock(NOW - timedelta(days=400)))
    return any_engine


def _search(engine: Engine, **options: object) -> dict:
    with session_scope(engine, read_only=True) as session:
        return registry.search_communities(session=session, **options)  # type: ignore[arg-type]


def test_search_matches_every_word_in_name_id_kind_tags_or_area(store: Engine) -> None:
    def ids(**options: object) -> list[str]:
        return [c["id"] for c in _search(store, **options)["communities"]]

    assert ids() == ["buurt-d", "club-e", "kerk-b", "moskee-a", "pools-c"]  # by name
    assert ids(query="FAITH") == ["kerk-b", "moskee-a"]
    assert ids(query="polish") == ["pools-c"]  # a tag
    assert ids(query="bu09990104") == ["buurt-d"]  # an area
    assert ids(query="faith islam") == ["moskee-a"]  # every word
    assert ids(query="moskee-a") == ["moskee-a"]
    assert ids(query="%") == [] and ids(query="_") == []  # no pattern characters
    assert ids(liaison="st-two") == ["buurt-d", "pools-c"]
    assert ids(liaison="nobody") == []
    first = _search(store, limit=2)
    assert first["total"] == 5 and len(first["communities"]) == 2
    long = _search(store, query="x" * 10_000)
    assert long["total"] == 0 and len(long["query"]) == 100
    moskee = _search(store, query="moskee")["communities"][0]
    assert moskee == {"id": "moskee-a", "name": "Moskee A", "kind": "faith",
                      "tags": ["islam", "mosque"], "area": "BU09990101", "liaison": "st-one",
                      "liaison_name": "Een Liaison", "active": True}


def test_a_communitys_profile_holds_no_contact_details(store: Engine) -> None:
    with session_scope(store, read_only=True) as session:
        profile = registry.community_profile(session=session, community_id="moskee-a")
        assert registry.community_profile(session=session, community_id="nope") is None
        assert registry.community_profile(session=session, community_id="x" * 300) is None
        staff = registry.list_staff(session=session)
    assert profile is not None
    assert profile["contacts"] == 2 and profile["languages"] == ["ar", "tr"]
    assert profile["liaison_name"] == "Een Liaison" and profile["liaison_active"]
    assert "Ahmed" not in repr(profile) and "06 11" not in repr(profile)
    assert [s["id"] for s in staff] == ["st-coord", "st-one", "st-new", "st-two"]


def test_a_communitys_peace_time_agrees_with_the_registry_wide_reports(store: Engine) -> None:
    playbook = load_playbook(PLAYBOOK)
    with session_scope(store) as session:
        peacetime.log_contact(session=session, communities=["moskee-a", "kerk-b"],
                              kind="meeting", by="st-one", persons=["a1"],
                              at=NOW - timedelta(days=20), now=NOW, note="Persoonlijk",
                              neutral_ground=True, place="Bibliotheek")
        peacetime.log_contact(session=session, communities=["buurt-d"], kind="visit",
                              by="st-two", persons=[], at=NOW - timedelta(days=200), now=NOW)
        done = peacetime.add_agreement(session=session, community="moskee-a", text="Eerste",
                                       due=date(2026, 7, 1), now=NOW)
        peacetime.add_agreement(session=session, community="moskee-a", text="Tweede",
                                due=None, now=NOW)
        peacetime.finish_agreement(session=session, agreement_id=done["id"], now=NOW)
        assert peacetime.agreement_community(session=session,
                                             agreement_id=done["id"]) == "moskee-a"
        assert peacetime.agreement_community(session=session, agreement_id=999) is None
    whole = peacetime.crisis_readiness(engine=store, playbook=playbook, now=NOW,
                                       consent_stale_days=365)
    due = peacetime.due_communities(engine=store, playbook=playbook, now=NOW)
    due_items = {i["community"]: i for items in due.liaisons.values() for i in items}
    with session_scope(store, read_only=True) as session:
        pages = {c["id"]: peacetime.community_peacetime(
            session=session, community=c["id"], playbook=playbook, now=NOW,
            consent_stale_days=365) for c in whole.communities}
        with_notes = peacetime.community_peacetime(
            session=session, community="moskee-a", playbook=playbook, now=NOW,
            consent_stale_days=365, include_notes=True)
        blind = peacetime.community_peacetime(
            session=session, community="moskee-a", playbook=None, now=NOW,
            consent_stale_days=365)
    for item in whole.communities:
        page = pages[item["id"]]
        assert page["readiness"]["reasons"] == item["reasons"], item["id"]
        if item["id"] in due_items:
            expected = {k: v for k, v in due_items[item["id"]].items() if k != "agreements"}
            assert page["due"] == expected, item["id"]
    moskee = pages["moskee-a"]
    [entry] = moskee["log"]
    assert entry["communities"] == ["kerk-b", "moskee-a"] and entry["with"] == 1
    assert entry["by_name"] == "Een Liaison" and entry["note"] is None
    assert with_notes["log"][0]["note"] == "Persoonlijk"
    assert [(a["text"], a["done"]) for a in moskee["agreements"]] == [("Tweede", False),
                                                                      ("Eerste", True)]
    assert moskee["due"]["status"] == "due" and moskee["due"]["every_days"] == 30
    assert [h["name"] for h in moskee["liaisons"]] == ["Een Liaison"]
    assert blind["readiness"] is None and blind["due"] is None and len(blind["log"]) == 1
    assert pages["buurt-d"]["due"]["status"] == "overdue"
