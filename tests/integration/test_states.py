"""States are types: each database refuses an unknown state, every writer moves through the
transition tables, and a cancelled timer is not fired."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.incidents.flows import acknowledge, close_incident
from engine.outreach.outbox import cancel_settled
from engine.store.db import alembic_config, migrate, session_scope
from engine.store.models import Event, Incident, IncidentCommunity, Message, Timer
from engine.store.states import (
    TRANSITIONS,
    CommunityStatus,
    IllegalTransition,
    IncidentStatus,
    MessageState,
    TimerState,
    check,
    move,
    sources,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
COLUMNS = {  # (table, state column, enum)
    "message": ("state", MessageState),
    "timer": ("state", TimerState),
    "incidentcommunity": ("status", CommunityStatus),
    "incident": ("status", IncidentStatus),
}


def add_rows(engine: Engine) -> None:
    """One incident, one of its communities, one message and one timer."""
    with session_scope(engine) as session:
        session.add(Incident(id=1, type="attack", title="t", declared_at=NOW, playbook_id="p",
                             playbook_version="1", playbook_digest="sha256:0"))
        session.flush()
        session.add(IncidentCommunity(incident_id=1, community_id="c1", role="affected"))
        session.add(Message(id=1, dedupe_key="k", incident_id=1, community_ids=["c1"],
                            recipient_kind="contact", recipient_id="p1", channel="sms",
                            address="+31600000000", locale="nl", body="b", step="esc:r0:s0",
                            next_attempt_at=NOW, created_at=NOW, updated_at=NOW))
        session.add(Timer(id=1, incident_id=1, community_id="c1", kind="escalation",
                          notify="primary", template="t", due_at=NOW))


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_the_database_refuses_an_unknown_state(any_engine: Engine, table: str) -> None:
    add_rows(any_engine)
    column, enum = COLUMNS[table]
    for value in enum:  # every state of the enum is allowed by the database
        with any_engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v"), {"v": value.value})
    for unknown in ("unknown", "PENDING", "Open", ""):
        with pytest.raises(sa.exc.IntegrityError), any_engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v"), {"v": unknown})
    with any_engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalar_one() == \
            list(enum)[-1].value


def test_the_models_refuse_an_unknown_state_before_the_database(any_engine: Engine) -> None:
    add_rows(any_engine)
    with pytest.raises(sa.exc.StatementError, match="'sent' is not a valid MessageState"), \
            session_scope(any_engine) as session:
        session.get(Message, 1).state = "sent"
    with session_scope(any_engine) as session:
        m = session.get(Message, 1)
        assert m.state is MessageState.PENDING  # read back as the enum member
        assert session.get(Timer, 1).state is TimerState.PENDING


def test_every_pair_of_states_is_allowed_exactly_as_the_tables_say() -> None:
    for kind, table in TRANSITIONS.items():
        assert set(table) == set(kind), f"{kind.__name__}: every state has a row"
        for old in kind:
            for new in kind:
                if new in table[old]:
                    assert check(old, new) is new
                else:
                    with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
                        check(old, new)


@pytest.mark.parametrize(("row", "new", "attr"), [
    (Message(state=MessageState.DELIVERED), MessageState.AMBIGUOUS, "state"),
    (Message(state=MessageState.CANCELLED), MessageState.CLAIMED, "state"),
    (Message(state=MessageState.PENDING), MessageState.SENDING, "state"),
    (Message(state=MessageState.ACCEPTED), MessageState.PENDING, "state"),
    (Timer(state=TimerState.FIRED), TimerState.CANCELLED, "state"),
    (Timer(state=TimerState.CANCELLED), TimerState.FIRED, "state"),
    (IncidentCommunity(status=CommunityStatus.ACKNOWLEDGED), CommunityStatus.OPEN, "status"),
    (Incident(status=IncidentStatus.CLOSED), IncidentStatus.OPEN, "status"),
])
def test_an_illegal_move_raises_and_changes_nothing(row, new, attr) -> None:
    before = getattr(row, attr)
    with pytest.raises(IllegalTransition):
        move(row, new, attr)
    assert getattr(row, attr) == before


def test_a_statement_may_only_name_states_it_may_move_from() -> None:
    assert sources(MessageState.CANCELLED, MessageState.PENDING) == (MessageState.PENDING,)
    with pytest.raises(IllegalTransition, match="sending -> cancelled"):
        sources(MessageState.CANCELLED, MessageState.PENDING, MessageState.SENDING)


def test_an_unknown_stored_state_is_no_way_out() -> None:
    with pytest.raises(IllegalTransition, match="bogus -> accepted"):
        check("bogus", MessageState.ACCEPTED)


@pytest.mark.postgres
def test_cancelling_leaves_a_message_that_went_out_meanwhile_as_it_is(pg_engine: Engine) -> None:
    """cancel_settled reads the unsent messages, then cancels them; one a worker started to
    send in between stays `sending` (before, it became `cancelled` although it was sent)."""
    add_rows(pg_engine)
    counted: list[int] = []

    def cancel() -> None:
        with session_scope(pg_engine) as session:
            counted.append(cancel_settled(session, incident_id=1, settled={"c1"}, now=NOW,
                                          reason="acknowledged"))

    with pg_engine.connect() as sender:  # holds the row, as a claiming worker does
        sender.exec_driver_sql("SELECT id FROM message WHERE id = 1 FOR UPDATE")
        thread = threading.Thread(target=cancel)
        thread.start()
        wait_for_lock_waiter(pg_engine)
        sender.exec_driver_sql("UPDATE message SET state = 'sending' WHERE id = 1")
        sender.commit()
    thread.join(timeout=20)
    assert counted == [0]
    with pg_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT state FROM message").scalar_one() == "sending"


def wait_for_lock_waiter(engine: Engine) -> None:
    deadline = time.monotonic() + 20
    while True:
        with engine.connect() as conn:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").scalar_one()
        if waiting:
            return
        assert time.monotonic() < deadline, "the other transaction never waited"
        time.sleep(0.01)


def timers_of(ctx, community: str) -> list[Timer]:
    with session_scope(ctx.engine) as session:
        return list(session.exec(select(Timer).where(Timer.community_id == community,
                                                     Timer.kind == "escalation")
                                 .order_by(Timer.due_at, Timer.id)))


def test_a_timer_cancelled_by_an_acknowledgement_is_not_fired(ctx, declare, worker) -> None:
    incident_id = declare(target="christian")  # kerk-c, standard policy: 0, 15, 30, 60 min
    worker.run_cycle()
    with session_scope(ctx.engine) as session:
        acknowledge(session, incident_id=incident_id, community_ids=["kerk-c"],
                    by="staff:st-liaison", now=ctx.clock.now(), via="staff")
    ctx.clock.advance(timedelta(minutes=20))
    worker.run_cycle()
    first, second = timers_of(ctx, "kerk-c")[:2]
    assert (first.state, first.fired_at, first.cancelled_at) == (
        TimerState.FIRED, ctx.clock.now() - timedelta(minutes=20), None)
    assert (second.state, second.fired_at, second.cancelled_at) == (
        TimerState.CANCELLED, None, ctx.clock.now())
    with session_scope(ctx.engine) as session:
        cancelled = session.exec(select(Event).where(Event.kind == "timer.cancelled")).all()
    assert [(e.data["timer"], e.data["reason"]) for e in cancelled] == [
        (second.id, "acknowledged")]


def test_closing_an_incident_cancels_its_timers_unfired(ctx, declare, worker) -> None:
    incident_id = declare(target="christian")
    worker.run_cycle()
    ctx.clock.advance(timedelta(minutes=5))
    with session_scope(ctx.engine) as session:
        assert close_incident(session, incident_id=incident_id, now=ctx.clock.now(),
                              actor="cli")
        assert session.get(Incident, incident_id).status is IncidentStatus.CLOSED
    timers = timers_of(ctx, "kerk-c")
    assert [t.state for t in timers] == [TimerState.FIRED] + [TimerState.CANCELLED] * 7
    assert all(t.fired_at is None and t.cancelled_at == ctx.clock.now() for t in timers[1:])


def test_migration_0003_moves_the_cancel_time_out_of_fired_at(any_engine: Engine) -> None:
    """A database at 0002 with a timer the old code cancelled (with `fired_at` set) upgrades
    to `cancelled_at`, and its rows keep their parents (SQLite rebuilds the tables)."""
    downgrade = alembic_config(any_engine)
    command.downgrade(downgrade, "0002")
    with any_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO incident (id, type, title, severity, fields, exercise, status, "
            "declared_at, playbook_id, playbook_version, playbook_digest, playbook_files, "
            "checklist) VALUES (1, 'attack', 't', 3, '{}', false, 'open', :now, 'p', '1', "
            "'sha256:0', '{}', '{}')"), {"now": NOW})
        conn.execute(sa.text(
            "INSERT INTO incidentcommunity (incident_id, community_id, role, status) "
            "VALUES (1, 'c1', 'affected', 'acknowledged')"))
        for n, (state, fired) in enumerate([("fired", NOW), ("cancelled", NOW + timedelta(1)),
                                            ("pending", None)]):
            conn.execute(sa.text(
                "INSERT INTO timer (id, incident_id, community_id, kind, round, step_index, "
                "notify, template, task_id, due_at, state, fired_at) VALUES (:n, 1, 'c1', "
                "'escalation', 0, :n, 'primary', 't', '', :now, :state, :fired)"),
                {"n": n, "now": NOW, "state": state, "fired": fired})
    migrate(any_engine)
    with session_scope(any_engine) as session:
        timers = session.exec(select(Timer).order_by(Timer.id)).all()
        assert [(t.state, t.fired_at, t.cancelled_at) for t in timers] == [
            (TimerState.FIRED, NOW, None), (TimerState.CANCELLED, None, NOW + timedelta(1)),
            (TimerState.PENDING, None, None)]
        assert session.get(IncidentCommunity, (1, "c1")).status is CommunityStatus.ACKNOWLEDGED
    command.check(alembic_config(any_engine))


def test_migration_0003_names_a_state_it_would_refuse(any_engine: Engine) -> None:
    command.downgrade(alembic_config(any_engine), "0002")
    with any_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO message (dedupe_key, community_ids, recipient_kind, recipient_id, "
            "channel, address, locale, body, step, state, attempts, created_at, updated_at) "
            "VALUES ('k', '[]', 'contact', 'p', 'sms', 'a', 'nl', 'b', 's', 'sent', 0, :now, "
            ":now)"), {"now": NOW})
    with pytest.raises(RuntimeError, match=r"message\.state holds \['sent'\]"):
        migrate(any_engine)
    with any_engine.connect() as conn:  # nothing changed: still at 0002, the row as it was
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() \
            == "0002"
        assert conn.exec_driver_sql("SELECT state FROM message").scalar_one() == "sent"
