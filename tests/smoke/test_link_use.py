"""Links are used as meant: one current answer per intake link, limits per link that the
clock lifts, and plain words on both pages once the incident is closed (nothing is recorded
then). Served by uvicorn on loopback, messages through the console channel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.incidents.flows import close_incident
from engine.store.db import session_scope
from engine.store.models import IntakeAnswer
from engine.web.app import PER_LINK
from engine.wiring import build_worker

from .server import (
    AHMED,
    DIRK_EMAIL,
    AppServer,
    community,
    declare,
    import_fixture_registry,
    link_tokens,
    message_to,
    rows,
    sent_body,
    serve_app,
    show,
    store_state,
)

INCIDENT = 1  # the only incident of each test


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application on SQLite and on PostgreSQL, the attack declared and its first
    messages sent."""
    import_fixture_registry(any_engine, clock)
    with serve_app(any_engine, clock, tmp_path) as served:
        assert declare(served.ctx) == INCIDENT
        build_worker(served.ctx, name="links-worker").run_cycle()
        yield served


def intake_link(app: AppServer) -> str:
    """Ahmed's intake link (Arabic; moskee-a and moskee-b)."""
    (token,) = link_tokens(sent_body(app.ctx, message_to(app.ctx, AHMED)), "i")
    return f"/i/{token}"


def ack_link(app: AppServer) -> str:
    """Dirk's acknowledgement link (Dutch; buurt-d)."""
    (token,) = link_tokens(sent_body(app.ctx, message_to(app.ctx, DIRK_EMAIL, "email")), "a")
    return f"/a/{token}"


def intake_events(app: AppServer) -> list[tuple[str, str | None, dict]]:
    """The timeline's intake events as `incident show` gives them: kind, community, answers
    (and previous ones)."""
    return [(e["kind"], e["community"], {k: e.get(k) for k in ("answers", "previous")
                                         if k in e})
            for e in show(app.ctx, INCIDENT)["timeline"] if e["kind"].startswith("intake.")]


def test_a_later_answer_replaces_the_earlier_one_on_the_timeline_once(app: AppServer) -> None:
    client, path = app.client, intake_link(app)
    first, later = {"needs": ["security"]}, {"needs": ["conversation", "aftercare"]}
    assert client.post(path, data=first).status_code == 200
    settled = store_state(app.ctx)
    for data in ({"needs": "security"}, {"needs": ["security", "security"]}):
        assert client.post(path, data=data).status_code == 200  # the same answer again
    assert store_state(app.ctx) == settled, "an identical resubmission changes nothing"
    # sent in another order: the form's order is kept
    assert client.post(path, data={"needs": ["aftercare", "conversation"]}).status_code == 200
    current = rows(app.ctx, IntakeAnswer, IntakeAnswer.replaced_at.is_(None))
    assert [(a.community_id, a.answers) for a in current] == [
        ("moskee-a", later), ("moskee-b", later)]
    assert intake_events(app) == [
        ("intake.answered", "moskee-a", {"answers": first}),
        ("intake.answered", "moskee-b", {"answers": first}),
        ("intake.changed", "moskee-a", {"answers": later, "previous": first}),
        ("intake.changed", "moskee-b", {"answers": later, "previous": first}),
    ]
    doc = show(app.ctx, INCIDENT)
    assert [i["answers"] for i in community(doc, "moskee-a")["intake"]] == [later]
    page = client.get(path).text
    checked = re.findall(r'value="([a-z_]+)" checked', page)
    assert checked == ["conversation", "aftercare"], "the form shows the current answer"


def test_submissions_through_one_link_are_limited_until_time_passes(app: AppServer) -> None:
    client, path = app.client, intake_link(app)
    for n in range(PER_LINK.burst):
        data = {"needs": ["security", "conversation", "aftercare"][n % 3]}
        assert client.post(path, data=data).status_code == 200, n
    before = store_state(app.ctx)
    refused = client.post(path, data={"needs": "security"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == PER_LINK.every.total_seconds()
    assert store_state(app.ctx) == before
    assert client.get(path).status_code == 200, "the page itself stays readable"
    assert client.post(ack_link(app)).status_code == 200, "another link is not limited"
    app.ctx.clock.advance(PER_LINK.every)
    assert client.post(path, data={"needs": "security"}).status_code == 200
    assert client.post(path, data={"needs": "security"}).status_code == 429


CLOSED_WORDS = {"nl": "Dit incident is afgesloten", "ar": "تم إغلاق هذا الحادث"}


def test_a_closed_incident_says_so_on_both_pages_and_records_nothing(app: AppServer) -> None:
    client, ctx = app.client, app.ctx
    ack, intake = ack_link(app), intake_link(app)
    ctx.clock.advance(timedelta(minutes=5))
    with session_scope(ctx.engine) as session:
        assert close_incident(session, incident_id=INCIDENT,
                              now=ctx.clock.now(), actor="staff:test")
    before = store_state(ctx)
    for response, lang, status in (
        (client.get(ack), "nl", 200), (client.post(ack), "nl", 409),
        (client.get(intake), "ar", 200),
        (client.post(intake, data={"needs": "security"}), "ar", 409),
    ):
        what = f"{response.request.method} {response.request.url.path}"
        assert response.status_code == status, what
        assert f'lang="{lang}"' in response.text and CLOSED_WORDS[lang] in response.text, what
        assert "<form" not in response.text, f"{what}: nothing to submit once closed"
    assert store_state(ctx) == before, "nothing is recorded after the close"
    assert community(show(ctx, INCIDENT), "buurt-d")["status"] == "open"
