"""A need stated through the web form, end to end (issue 12, points 4 and 6).

The sample municipality, the default playbook, a served application: a hate crime against the
Eritrean community is declared; Rahwa (who reads Tigrinya, which no template has) gets the SMS
in Dutch, so her intake page opens in Dutch; she asks for security; the community's checklist
gains the task for the on-call officer, who is alerted at once; `incident show` says it in
words.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.incidents import service
from engine.oncall import service as oncall
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import IntakeToken, Message
from engine.wiring import build_worker
from playbook.model import IncidentInput

from .server import AppServer, community, link_tokens, message_to, sent_body, serve_app, show

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"
START = datetime(2026, 12, 2, 1, 57, tzinfo=UTC)  # st-elhadi is on call
RAHWA = "+31637811503"  # p020, primary of eritrees-orthodox, language ti


@pytest.fixture
def app(sqlite_engine: Engine, tmp_path: Path) -> Iterator[AppServer]:
    """The sample municipality served with the default playbook and console channels."""
    clock = FakeClock(START)
    import_registry(sqlite_engine, [SAMPLE], clock=clock)
    oncall.import_roster(engine=sqlite_engine, paths=[SAMPLE / "oncall.csv"])
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        yield served


def test_a_need_stated_on_the_web_form_adds_its_task_and_alerts_on_call(app: AppServer) -> None:
    ctx = app.ctx
    incident = IncidentInput(type="hate_crime", declared_at=ctx.clock.now(),
                             title="Mishandeling Eritrese jongen / assault", severity=3,
                             fields={"targeted_group": "eritrean"})
    with session_scope(ctx.engine) as session:
        incident_id = service.declare(session=session, playbook=ctx.load_playbook(),
                                      incident=incident, now=ctx.clock.now()).incident_id
    worker = build_worker(ctx, name="web-test")
    worker.run_cycle()

    sms = message_to(ctx, RAHWA)
    body = sent_body(ctx, sms)
    assert sms.locale == "nl"  # no template speaks Tigrinya: Dutch, the community's next
    assert "Betreft: Haatmisdrijf tegen een persoon." in body
    assert "Mishandeling" not in body and "Eritre" not in body  # no free title in an SMS
    (token,) = link_tokens(body, "i")
    assert f"Laat ons weten wat u nodig heeft: {app.url}/i/{token}" in body
    with session_scope(ctx.engine, read_only=True) as session:
        locales = {t.locale for t in session.exec(select(IntakeToken).where(
            IntakeToken.recipient_id == "p020")).all()}
    assert locales == {"nl"}

    page = app.client.get(f"/i/{token}")
    assert page.status_code == 200
    assert 'lang="nl"' in page.text and "Beveiliging" in page.text
    done = app.client.post(f"/i/{token}", data={"needs": ["security"],
                                                "remarks": "Er staan mensen voor de deur"})
    assert done.status_code == 200 and 'lang="nl"' in done.text

    doc = show(ctx, incident_id)
    church = community(doc, "eritrees-orthodox")
    assert church["reach"] == "reached"
    task = next(t for t in church["tasks"] if t["id"] == "arrange-security")
    assert (task["owner"], task["state"]) == ("oncall", "open")
    (answer,) = church["intake"]
    words = {w["question"]: w for w in answer["in_words"]}
    assert words["needs"]["words"] == {"nl": "Beveiliging", "en": "Security"}
    assert words["remarks"]["text"] == "Er staan mensen voor de deur"
    assert any(e["kind"] == "intake.alert" and e.get("community") == "eritrees-orthodox"
               for e in doc["timeline"])

    worker.run_cycle()  # the alert is due at once
    with session_scope(ctx.engine, read_only=True) as session:
        alerts = session.exec(select(Message).where(Message.template == "need_stated")).all()
    assert {(m.recipient_id, m.step) for m in alerts} == {
        ("st-elhadi", "need:needs:security")}
    (alert,) = [m for m in alerts if m.channel == "sms"]
    assert "Eritrees-Orthodoxe Kerk Kidane Mehret vraagt om: Beveiliging" in alert.body
    assert "voor de deur" not in alert.body  # free text stays out of an SMS
    assert alert.state in ("accepted", "delivered")
