"""Every endpoint of the JSON API, fuzzed by schemathesis from /api/v1/openapi.json: no server
error and no answer outside the document, for tokens of every role, a revoked token, a made-up
token and none at all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp

from engine.accounts.apitokens import create_api_token, revoke_api_token
from engine.clock import FakeClock
from engine.oncall.service import import_roster
from engine.peacetime.service import add_agreement, log_contact
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.web.app import create_app
from tests.dashboard_support import DASHBOARD_REGISTRY
from tests.engine_support import make_ctx
from tests.smoke.server import declare

ROLES = ("coordinator", "liaison", "oncall", "viewer")


@dataclass
class FuzzedApi:
    """The application and the Authorization headers to try each request with."""

    app: ASGIApp
    headers: dict[str, dict[str, str]]


@pytest.fixture
def api(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> FuzzedApi:
    """The application with one declared incident, a roster, an agreement and a logged
    contact (so the answers hold data to check), and a token of every role."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    roster = tmp_path / "oncall.csv"
    roster.write_text("staff,start,end\nst-oncall,2026-03-01 08:00,2026-03-02 08:00\n"
                      "st-oncall,2026-03-02 12:00,2026-03-03 08:00\n")
    import_roster(engine=sqlite_engine, paths=[roster])
    with session_scope(sqlite_engine) as s:
        add_agreement(session=s, community="moskee-a", text="Open dag", due=None,
                      now=clock.now())
        log_contact(session=s, communities=["moskee-a"], kind="visit", by="st-liaison",
                    persons=["a1"], at=clock.now(), now=clock.now(), note="Koffie")
    ctx = make_ctx(sqlite_engine, clock, tmp_path)
    declare(ctx)
    headers: dict[str, dict[str, str]] = {"none": {}, "made up": {
        "Authorization": "Bearer vbt_" + "A" * 43}}
    with session_scope(sqlite_engine) as s:
        for role in ROLES:
            _, token = create_api_token(s, name=role, role=role, created_by="cli",
                                        now=clock.now())
            headers[role] = {"Authorization": f"Bearer {token}"}
        revoked_id, revoked = create_api_token(s, name="old", role="coordinator",
                                               created_by="cli", now=clock.now())
        revoke_api_token(s, token_id=revoked_id, now=clock.now(), actor="cli")
    headers["revoked"] = {"Authorization": f"Bearer {revoked}"}
    return FuzzedApi(create_app(ctx), headers)


def _operations(api: FuzzedApi) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis's pytest plugin (from_fixture) does not run on pytest 9: each operation is
# driven here with hypothesis, its valid requests and its invalid ones.
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_every_endpoint_answers_within_its_document(api: FuzzedApi, mode: GenerationMode
                                                    ) -> None:
    operations = _operations(api)
    assert len(operations) == 22
    for operation in operations:
        _fuzz(api, operation, mode)


def _fuzz(api: FuzzedApi, operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    # What an action accepts depends on the playbook and the incident's state (a type's
    # required fields, a community of this incident): a request the document allows may be
    # refused with 422, as documented. The other checks stay, 5xx and schema included.
    excluded = [positive_data_acceptance] if operation.method.upper() == "POST" else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers(case: schemathesis.Case) -> None:
        # A query parameter whose value is None or [] is not sent at all, and the headers
        # given here put back the Authorization a negative case may have taken out: such a
        # request is a valid one on the wire, and its acceptance no failure.
        vanished = any(v is None or v == [] for v in (case.query or {}).values())
        checks_off = [*excluded, negative_data_rejection] if vanished else excluded
        for who, headers in api.headers.items():
            response = case.call_and_validate(headers=headers, excluded_checks=checks_off)
            if who in ("none", "made up", "revoked"):
                assert response.status_code == 401, who

    answers()


def test_the_document_describes_the_api_only(api: FuzzedApi) -> None:
    document = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app).raw_schema
    assert document["servers"] == [{"url": "/api/v1"}]
    assert sorted(document["paths"]) == [
        "/incidents", "/incidents/preview", "/incidents/{incident_id}",
        "/incidents/{incident_id}/ack", "/incidents/{incident_id}/board",
        "/incidents/{incident_id}/callsheet/{fmt}", "/incidents/{incident_id}/close",
        "/incidents/{incident_id}/export/{fmt}", "/incidents/{incident_id}/take-over",
        "/incidents/{incident_id}/tasks/tick", "/incidents/{incident_id}/tasks/untick", "/me",
        "/peacetime/agreements", "/peacetime/agreements/{agreement_id}/done",
        "/peacetime/contacts", "/peacetime/due", "/registry", "/registry/{community_id}",
        "/registry/{community_id}/contacts", "/roster", "/tokens"]
    assert document["security"] == [{"token": []}]
