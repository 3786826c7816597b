"""Needs and replies on the board (HTTP on a served app, the default playbook): a contact's
intake answer shows on the board in the page's words with the task it added, its free text
only for those who may see the community's contacts; the status follows the added task; a
reply that matched nothing shows in the row; roles and timeline events read in words."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from engine.clock import FakeClock
from engine.incidents import service
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.web.access import LANG_COOKIE
from engine.wiring import build_worker
from playbook.model import IncidentInput
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, enrolled
from tests.smoke.server import AHMED, AppServer, link_tokens, message_to, sent_body, serve_app

AUTH_TOKEN = "needs-board-auth-token"
START = datetime(2026, 3, 1, 9, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture
def app(sqlite_engine: Engine, tmp_path: Path) -> Iterator[AppServer]:
    """The dashboard registry on the default playbook; an attack on Moskee A declared and its
    first messages sent (Ahmed, who reads Arabic, gets the intake link)."""
    clock = FakeClock(START)
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path, twilio_auth_token=AUTH_TOKEN) as served:
        declare_attack(served)
        yield served


def declare_attack(app: AppServer) -> int:
    """Declare the default playbook's attack on Moskee A and run one worker cycle."""
    ctx = app.ctx
    incident = IncidentInput(type="attack_on_place_of_worship", declared_at=ctx.clock.now(),
                             title="Brand bij Moskee A", severity=4,
                             fields={"target_faith": "islam", "target_community": "moskee-a"})
    with session_scope(ctx.engine) as session:
        incident_id = service.declare(session=session, playbook=ctx.load_playbook(),
                                      incident=incident, now=ctx.clock.now()).incident_id
    build_worker(ctx, name="needs-board").run_cycle()
    return incident_id


def intake_token(app: AppServer) -> str:
    """The intake link's token in the SMS to Ahmed (Arabic)."""
    sms = message_to(app.ctx, AHMED)
    assert sms.locale == "ar"
    (token,) = link_tokens(sent_body(app.ctx, sms), "i")
    return token


def logged_in(app: AppServer, role: str, staff: str | None = None) -> Browserless:
    """A client logged in with a new account of this role."""
    user = enrolled(app.ctx, f"{role}-{next(_numbers)}@example.org", role, staff)
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    assert client.login(user, app.ctx.clock).status_code == 303
    return client


def row_of(page: str, community: str) -> str:
    """The HTML of one community's row on the board."""
    found = re.search(rf'<tr id="row-\w+" data-community="{community}">(.*?)</tr>', page,
                      re.S)
    assert found, f"no row for {community}"
    return found.group(1)


def status_of(page: str, community: str) -> str:
    """The board status of one community's row."""
    found = re.search(r'data-status="(\w+)"', row_of(page, community))
    assert found
    return found.group(1)


def reply(app: AppServer, body: str) -> None:
    """An inbound SMS from Ahmed, signed as Twilio signs it."""
    params = {"AccountSid": "AC" + "0" * 32, "Body": body, "From": AHMED,
              "MessageSid": "SM" + "2" * 32, "NumMedia": "0", "To": "+3197010000000"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(app.inbound_url, params)
    answer = httpx.post(app.inbound_url, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.text


def test_an_answer_shows_its_need_and_task_and_the_status_follows_the_task(app: AppServer
                                                                            ) -> None:
    coordinator = logged_in(app, "coordinator")
    before = coordinator.get("/incidents/1", headers={"accept-language": "nl"})
    version = re.search(r'v=([^"&]+)"', before.text)
    assert version
    assert status_of(before.text, "moskee-a") == "sent"
    assert "Beveiliging" not in row_of(before.text, "moskee-a")

    token = intake_token(app)
    answered = httpx.post(f"{app.url}/i/{token}", data={
        "needs": ["security"], "remarks": "<b>Er staan mensen</b> bij de deur"})
    assert answered.status_code == 200

    # the poll with the old version gets the fragment with the need in it
    polled = coordinator.get(f"/incidents/1?role=&status=&v={version.group(1)}",
                             headers={"hx-request": "true", "accept-language": "nl"})
    assert polled.status_code == 200 and "<html" not in polled.text
    row = row_of(polled.text, "moskee-a")
    assert status_of(polled.text, "moskee-a") == "needs_stated"
    assert '<span class="need-words">Beveiliging</span>' in row
    assert 'data-task="arrange-security">Regel beveiliging met de politie' in row
    assert "&lt;b&gt;Er staan mensen&lt;/b&gt; bij de deur" in row  # free text, as text
    assert "<b>Er staan" not in polled.text

    coordinator.cookies[LANG_COOKIE] = "en"
    row_en = row_of(coordinator.get("/incidents/1").text, "moskee-a")
    assert '<span class="need-words">Security</span>' in row_en
    assert 'data-task="arrange-security">Arrange security with the police' in row_en
    coordinator.cookies[LANG_COOKIE] = "nl"

    # the task the answer added done: needs met, though later aftercare tasks are open
    assert coordinator.post("/incidents/1/act", {"tick": "moskee-a/arrange-security"}
                            ).status_code == 303
    after = coordinator.get("/incidents/1")
    assert status_of(after.text, "moskee-a") == "needs_met"
    assert "(gedaan)" in row_of(after.text, "moskee-a")


def test_free_text_only_for_those_who_may_see_the_contacts(app: AppServer) -> None:
    token = intake_token(app)
    assert httpx.post(f"{app.url}/i/{token}", data={
        "needs": ["security", "conversation"], "remarks": "Bel mij na tienen"}
                      ).status_code == 200
    reply(app, "Wanneer komt de politie?")  # no keyword: an unmatched reply
    for role, staff, sees in (("coordinator", None, True), ("oncall", None, True),
                              ("liaison", "st-liaison", True), ("liaison", "st-liaison2", False),
                              ("viewer", None, False)):
        page = logged_in(app, role, staff).get("/incidents/1")
        assert page.status_code == 200, role
        row = row_of(page.text, "moskee-a")
        assert "Beveiliging, Een gesprek" in row, role  # the needs: everyone on the board
        # Ahmed's link was for both mosques (he is a contact of each): st-liaison2 reads it
        # in Moskee B's row, which is theirs, not in Moskee A's
        assert ("Bel mij na tienen" in row) is sees, (role, staff)
        assert ("Wanneer komt de politie?" in row) is sees, (role, staff)
        if role == "viewer":
            assert "Bel mij" not in page.text and "Wanneer komt" not in page.text
        if not sees:
            assert "vrije tekst (alleen voor wie de contacten mag zien)" in row
            assert "tekst alleen voor wie de contacten mag zien" in row


def test_roles_and_timeline_events_read_in_words(app: AppServer) -> None:
    client = logged_in(app, "coordinator")
    dutch = client.get("/incidents/1", headers={"accept-language": "nl"}).text
    assert ('<span data-type="attack_on_place_of_worship">Aanval of vernieling bij een '
            'gebedshuis</span>') in dutch
    assert "<div>getroffen</div>" in dutch and "<div>affected</div>" not in dutch
    assert '<option value="affected">getroffen</option>' in dutch
    assert 'data-kind="incident.declared">incident gemeld</span>' in dutch
    assert 'data-kind="message.accepted">bericht verstuurd</span>' in dutch
    english = Browserless(app.url)
    english.cookies = dict(client.cookies)
    english.cookies[LANG_COOKIE] = "en"
    page = english.get("/incidents/1").text
    assert 'data-kind="incident.declared">incident declared</span>' in page
    assert ">Attack on or vandalism at a place of worship</span>" in page
    assert "<div>affected</div>" in page


def test_a_kept_fragment_is_never_another_viewers(app: AppServer) -> None:
    token = intake_token(app)
    assert httpx.post(f"{app.url}/i/{token}", data={
        "needs": ["security"], "remarks": "Alleen voor de gemeente"}).status_code == 200
    fragment = {"hx-request": "true"}
    coordinator, other = logged_in(app, "coordinator"), logged_in(app, "coordinator")
    liaison = logged_in(app, "liaison", "st-liaison2")
    first = coordinator.get("/incidents/1", headers=fragment)
    assert "Alleen voor de gemeente" in row_of(first.text, "moskee-a")
    assert f'value="{coordinator.csrf}"' in first.text
    # the same version for another coordinator: the same board, with their own CSRF token
    second = other.get("/incidents/1", headers=fragment)
    assert other.csrf != coordinator.csrf
    assert f'value="{other.csrf}"' in second.text
    assert coordinator.csrf not in second.text
    assert second.text.replace(other.csrf, "x") == first.text.replace(coordinator.csrf, "x")
    # a liaison of another community, same version: its own rendering without the text
    theirs = liaison.get("/incidents/1", headers=fragment)
    assert "Alleen voor de gemeente" not in row_of(theirs.text, "moskee-a")
    assert coordinator.csrf not in theirs.text and other.csrf not in theirs.text
    assert 'name="ack" value="moskee-a"' not in theirs.text  # not theirs to act for
    assert 'name="ack" value="moskee-b"' not in theirs.text  # acknowledged by the answer
    # a change shows at once (the version moved): the task ticked by the coordinator
    assert coordinator.post("/incidents/1/act", {"tick": "moskee-a/arrange-security"}
                            ).status_code == 303
    after = other.get("/incidents/1", headers=fragment)
    assert status_of(after.text, "moskee-a") == "needs_met"
    # a post from the polled fragment is accepted (its token is the viewer's)
    assert other.post("/incidents/1/act", {"untick": "moskee-a/arrange-security"}
                      ).status_code == 303
    assert status_of(other.get("/incidents/1", headers=fragment).text,
                     "moskee-a") == "needs_stated"


def test_what_the_version_does_not_see_shows_within_doc_seconds(app: AppServer) -> None:
    from sqlalchemy import update

    from engine.store.models import Community
    from engine.web.dashboard.board import DOC_SECONDS

    client = logged_in(app, "coordinator")
    assert "Moskee A" in row_of(client.get("/incidents/1").text, "moskee-a")
    with session_scope(app.ctx.engine) as session:  # a registry import renames it
        session.execute(update(Community).where(Community.id == "moskee-a")
                        .values(name="Moskee An-Nour A"))
    kept = client.get("/incidents/1").text
    assert "Moskee An-Nour A" not in kept  # the board's version did not move: kept
    app.ctx.clock.advance(timedelta(seconds=DOC_SECONDS + 1))
    assert "Moskee An-Nour A" in row_of(client.get("/incidents/1").text, "moskee-a")
    assert "Moskee An-Nour A" in row_of(
        client.get("/incidents/1", headers={"hx-request": "true"}).text, "moskee-a")
