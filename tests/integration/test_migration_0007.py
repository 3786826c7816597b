"""Migration 0007: the free text that events carried before it moves to rows purge can erase,
the timeline shows the same, and a downgrade puts it back (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.privacy.texts import timeline_texts
from engine.store.db import alembic_config, migrate
from engine.store.models import Event, IntakeAnswer, Note, Reply

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FIRST, LATER = {"needs": ["security"]}, {"needs": ["aftercare"], "remarks": "bel mij"}
LEGACY = [
    ("inbound.reply", "contact:b1", None, {"communities": ["moskee-b"], "text": "Bel mij"}),
    ("community.acknowledged", "staff:cli", "moskee-a", {"via": "staff", "note": "gebeld"}),
    ("community.acknowledged", "contact:a1", "moskee-b", {"via": "sms", "note": None}),
    ("intake.answered", "contact:b1", "moskee-b", {"form": "needs", "source": "web",
                                                  "answers": FIRST}),
    ("intake.changed", "contact:b1", "moskee-b", {"form": "needs", "source": "web",
                                                 "answers": LATER, "previous": FIRST}),
    ("message.accepted", "w", None, {"message": 1, "channel": "sms"}),
]


def _legacy_store(engine: Engine) -> None:
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0006_accounts")
    event = sa.table("event", sa.column("at", sa.DateTime(timezone=True)),
                     sa.column("incident_id", sa.Integer), sa.column("community_id", sa.String),
                     sa.column("kind", sa.String), sa.column("actor", sa.String),
                     sa.column("data", sa.JSON))
    answer = sa.table("intakeanswer", sa.column("incident_id", sa.Integer),
                      sa.column("community_id", sa.String), sa.column("contact_id", sa.String),
                      sa.column("form_id", sa.String), sa.column("answers", sa.JSON),
                      sa.column("source", sa.String), sa.column("at", sa.DateTime(timezone=True)),
                      sa.column("link", sa.String))
    at = AT if engine.dialect.name == "postgresql" else AT.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.insert(answer).values(
            incident_id=1, community_id="moskee-b", contact_id="b1", form_id="needs",
            answers=LATER, source="web", at=at, link="h" * 64))  # changed in place, as then
        for kind, actor, community, data in LEGACY:
            conn.execute(sa.insert(event).values(at=at, incident_id=1, community_id=community,
                                                 kind=kind, actor=actor, data=data))


def test_old_events_lose_their_text_to_rows_and_show_the_same(any_engine: Engine) -> None:
    _legacy_store(any_engine)
    migrate(any_engine)
    with Session(any_engine) as session:
        events = list(session.exec(select(Event).order_by(Event.id)))
        assert [e.data.get(k) for e in events for k in ("text", "note", "answers", "previous")
                if k in e.data] == [], "no text left in the timeline rows"
        shown = timeline_texts(session, events)
        assert [shown[e.id] for e in events] == [data for *_, data in LEGACY]
        assert [r.text for r in session.exec(select(Reply))] == ["Bel mij"]
        assert [(n.text, n.author) for n in session.exec(select(Note))] == [
            ("gebeld", "staff:cli")]
        answers = list(session.exec(select(IntakeAnswer).order_by(IntakeAnswer.id)))
        assert [(a.answers, a.link is not None, a.replaced_at is not None) for a in answers] \
            == [(LATER, True, False), (FIRST, False, True)], \
            "the earlier answer, only in the event before, is a replaced row now"


def test_a_downgrade_puts_the_text_back(any_engine: Engine) -> None:
    _legacy_store(any_engine)
    migrate(any_engine)
    command.downgrade(alembic_config(any_engine), "0006_accounts")
    with any_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT data FROM event ORDER BY id")).scalars().all()
        answers = conn.execute(sa.text("SELECT count(*) FROM intakeanswer")).scalar()
    decoded = [r if isinstance(r, dict) else json.loads(r) for r in rows]
    assert decoded == [data for *_, data in LEGACY]
    assert answers == 1
    with any_engine.begin() as conn:  # no trigger is left behind
        conn.execute(sa.text("UPDATE event SET actor = actor"))
    migrate(any_engine)
