"""Bulk writes on both databases: the same rows and answers through unnest() and executemany."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.store import bulk
from engine.store.models import Event, Message

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def message(key: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "dedupe_key": key, "incident_id": 1, "community_ids": ["a", "ö"], "recipient_kind":
        "contact", "recipient_id": "p1", "channel": "sms", "address": "+31611111101",
        "locale": "ar", "subject": None, "body": 'نعم, "quoted" \\ back {brace}', "html": None,
        "step": "s0", "template": None, "state": "pending", "attempts": 0,
        "next_attempt_at": AT, "created_at": AT, "updated_at": AT,
    }
    row.update(extra)
    return row


def messages(engine: Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.dedupe_key: r for r in conn.execute(sa.select(Message.__table__))}


def test_insert_returns_only_new_keys_and_stores_values_as_given(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        first = bulk.insert_rows(conn, Message.__table__, [message("k1")],
                                 skip_conflicts_on="dedupe_key", returning="dedupe_key")
        again = bulk.insert_rows(
            conn, Message.__table__,
            [message("k1", body="other"), message("k2"), message("k3", subject="s")],
            skip_conflicts_on="dedupe_key", returning="dedupe_key")
    assert first == ["k1"]
    assert sorted(again) == ["k2", "k3"]
    stored = messages(any_engine)
    assert stored["k1"].body == 'نعم, "quoted" \\ back {brace}', "a skipped row changes nothing"
    assert stored["k1"].community_ids == ["a", "ö"]
    assert stored["k1"].next_attempt_at == AT and stored["k1"].subject is None
    assert stored["k3"].subject == "s"


def test_insert_without_returning_writes_json_and_times(any_engine: Engine) -> None:
    rows = [{"at": AT + timedelta(seconds=i), "kind": "test", "incident_id": None,
             "community_id": None, "actor": "w", "data": {"n": i, "nested": [None, "x"]}}
            for i in range(3)]
    with any_engine.begin() as conn:
        assert bulk.insert_rows(conn, Event.__table__, rows) == []
    with any_engine.connect() as conn:
        got = conn.execute(sa.select(Event.__table__).order_by(Event.__table__.c.at)).all()
    assert [(r.at, r.data, r.incident_id) for r in got] == [
        (AT + timedelta(seconds=i), {"n": i, "nested": [None, "x"]}, None) for i in range(3)]


def test_a_naive_time_is_refused_and_nothing_is_written(any_engine: Engine) -> None:
    rows = [message("k1"), message("k2", created_at=datetime(2026, 3, 1))]
    with (pytest.raises((ValueError, sa.exc.StatementError), match="naive"),
          any_engine.begin() as conn):
        bulk.insert_rows(conn, Message.__table__, rows)
    assert messages(any_engine) == {}


def test_update_sets_values_only_where_the_row_still_matches(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        bulk.insert_rows(conn, Message.__table__, [
            message("k1", state="sending", claimed_by="w1"),
            message("k2", state="sending", claimed_by="w2"),
            message("k3", state="ambiguous", claimed_by="w1"),
        ])
    ids = {k: r.id for k, r in messages(any_engine).items()}
    later = AT + timedelta(minutes=1)
    with any_engine.begin() as conn:
        updated = bulk.update_rows(
            conn, Message.__table__,
            [{"id": ids[k], "provider_id": f"SM{k}", "accepted_at": later} for k in ids],
            fixed={"state": "accepted"}, only_where={"state": "sending", "claimed_by": "w1"})
    assert updated == {ids["k1"]}
    stored = messages(any_engine)
    assert (stored["k1"].state, stored["k1"].provider_id, stored["k1"].accepted_at) == (
        "accepted", "SMk1", later)
    assert (stored["k2"].state, stored["k2"].provider_id) == ("sending", None)
    assert (stored["k3"].state, stored["k3"].provider_id) == ("ambiguous", None)


def test_any_of_matches_like_in(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        bulk.insert_rows(conn, Message.__table__, [message(f"k{i}") for i in range(5)])
    table = Message.__table__
    with any_engine.connect() as conn:
        found = set(conn.execute(sa.select(table.c.dedupe_key).where(
            bulk.any_of(conn, table.c.dedupe_key, ["k1", "k3", "nope"]))).scalars())
        none = conn.execute(sa.select(table.c.id).where(
            bulk.any_of(conn, table.c.dedupe_key, []))).all()
    assert found == {"k1", "k3"}
    assert none == []


def test_postgres_statement_text_does_not_grow_with_the_rows(pg_engine: Engine) -> None:
    """The point of unnest(): the driver parses one text, whatever the batch size."""
    seen = []
    sa.event.listen(pg_engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: seen.append(statement))
    for n in (1, 7, 300):
        with pg_engine.begin() as conn:
            bulk.insert_rows(conn, Message.__table__, [message(f"n{n}-{i}") for i in range(n)],
                             skip_conflicts_on="dedupe_key", returning="dedupe_key")
    inserts = [s for s in seen if s.startswith("INSERT")]
    assert len(inserts) == 3 and len(set(inserts)) == 1
    assert len(messages(pg_engine)) == 308
