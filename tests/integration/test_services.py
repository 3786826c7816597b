"""The incident verbs of the service layer, as a web request would call them: values back,
changes only inside the caller's transaction."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.errors import NotFoundError
from engine.incidents import service
from engine.store.db import session_scope
from engine.store.models import Incident, Timer
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from tests.engine_support import ENGINE_PLAYBOOK


def attack(ctx) -> IncidentInput:
    return IncidentInput(type="attack", declared_at=ctx.clock.now(), title="Incident",
                         severity=3, fields={"target": "islam"})


def test_preview_changes_nothing_and_declare_stores_what_it_previewed(ctx) -> None:
    playbook = load_playbook(ENGINE_PLAYBOOK)
    previewed = service.preview(engine=ctx.engine, playbook=playbook, incident=attack(ctx))
    with session_scope(ctx.engine, read_only=True) as session:
        assert session.exec(select(Incident)).all() == []

    with session_scope(ctx.engine) as session:
        declared = service.declare(session=session, playbook=playbook, incident=attack(ctx),
                                   now=ctx.clock.now())
    assert [c["id"] for c in declared.checklist["communities"]] == [
        item.community.id for item in previewed.communities]
    assert declared.checklist["incident"]["id"] == declared.incident_id
    assert declared.warnings == list(declared.checklist["warnings"])
    with session_scope(ctx.engine, read_only=True) as session:
        listed = service.list_incidents(session=session)
        timers = session.exec(select(Timer).where(
            Timer.incident_id == declared.incident_id)).all()
    assert [i["id"] for i in listed] == [declared.incident_id]
    assert timers


def test_acknowledge_take_over_and_close_report_what_changed(ctx, declare) -> None:
    incident_id = declare()
    with session_scope(ctx.engine) as session:
        assert service.acknowledge(session=session, incident_id=incident_id,
                                   community_ids=["moskee-a"], by="staff:cli",
                                   now=ctx.clock.now(), via="staff") == ["moskee-a"]
        assert service.acknowledge(session=session, incident_id=incident_id,
                                   community_ids=["moskee-a"], by="staff:cli",
                                   now=ctx.clock.now(), via="staff") == []
        assert service.take_over(session=session, incident_id=incident_id,
                                 community_ids=["moskee-b"], staff_id="st-liaison",
                                 now=ctx.clock.now(), via="sms") == ["moskee-b"]
    with session_scope(ctx.engine, read_only=True) as session:
        shown = service.show_incident(session=session, incident_id=incident_id)
    by_id = {c["id"]: c for c in shown["communities"]}
    assert (by_id["moskee-a"]["status"], by_id["moskee-a"]["taken_over_by"]) == (
        "acknowledged", None)
    assert (by_id["moskee-b"]["acknowledged_by"], by_id["moskee-b"]["taken_over_by"]) == (
        "staff:st-liaison", "st-liaison")

    with session_scope(ctx.engine) as session:
        assert service.close(session=session, incident_id=incident_id, now=ctx.clock.now(),
                             actor="staff:cli") is True
        assert service.close(session=session, incident_id=incident_id, now=ctx.clock.now(),
                             actor="staff:cli") is False


def test_show_incident_names_a_missing_incident(ctx) -> None:
    with session_scope(ctx.engine, read_only=True) as session, \
            pytest.raises(NotFoundError, match="incident 99: no such incident"):
        service.show_incident(session=session, incident_id=99)
