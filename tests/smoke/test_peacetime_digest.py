"""The liaison's digest end to end: two workers on one database, a real SMTP server, and an
injected clock across the night the clocks go forward (28 March 2027, Europe/Amsterdam).

The digest goes out weekly on Monday at 08:00 local time: 07:00 UTC before the change, 06:00
UTC after it; once per liaison and week however many workers look, and not at all to a
liaison with nothing due.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.clock import FakeClock
from engine.peacetime import service
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import DigestClaim, Event, Message
from engine.wiring import build_worker
from tests.engine_support import make_ctx

from .conftest import ExpectedSends
from .smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "fixtures" / "peacetime" / "playbook.yaml"
REGISTRY = ROOT / "tests" / "fixtures" / "peacetime_registry"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite"
                                             else "pg_engine")
    return engine


def _log(engine: Engine, community: str, by: str, at: datetime) -> None:
    with session_scope(engine) as session:
        service.log_contact(session=session, communities=[community], kind="visit", by=by,
                            persons=[], at=at, now=at)


def test_weekly_digest_at_local_hour_once_across_dst(
        store: Engine, tmp_path: Path, smtp_server: SmtpServer,
        expected_sends: ExpectedSends) -> None:
    clock = FakeClock(_at("2027-03-01T09:00:00+00:00"))
    import_registry(store, [REGISTRY], clock=clock)
    _log(store, "buurt-d", "st-two", _at("2026-12-01T10:00:00+01:00"))  # 90d: overdue
    _log(store, "pools-c", "st-two", _at("2027-03-01T10:00:00+01:00"))  # 60d: not due
    _log(store, "moskee-a", "st-one", _at("2027-03-10T10:00:00+01:00"))  # due 9 April
    with session_scope(store) as session:
        service.add_agreement(session=session, community="buurt-d", text="Buurtgesprek "
                              "plannen", due=None, now=clock.now())
    settings = {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                "smtp_starttls": False, "playbook": str(PLAYBOOK)}
    workers = [build_worker(make_ctx(store, clock, tmp_path / name, **settings), name=name)
               for name in ("w1", "w2")]

    def both_cycle() -> None:
        """Both workers run a whole cycle at the same moment, as two processes would."""
        errors: list[BaseException] = []

        def run(worker) -> None:  # type: ignore[no-untyped-def]
            try:  # a started worker's wake-up (fire, look for digests), then a send round
                worker.wake()
                worker.run_cycle()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors

    def received() -> list[tuple[str, str]]:
        return [(m.rcpt_tos[0], m.message["Subject"]) for m in smtp_server.messages]

    # Monday 22 March 2027, CET (UTC+1): 07:59 local is too early, 08:00 local sends.
    clock.set(_at("2027-03-22T07:59:00+01:00"))
    both_cycle()
    assert received() == []
    clock.set(_at("2027-03-22T08:00:00+01:00"))
    assert clock.now() == datetime(2027, 3, 22, 7, 0, tzinfo=UTC)
    both_cycle()
    assert sorted(r for r, _ in received()) == ["one@example.net", "two@example.net"]
    clock.advance(timedelta(hours=3))
    both_cycle()
    assert len(received()) == 2  # once per week, however often and however many look

    two = next(m.message for m in smtp_server.messages if m.rcpt_tos == ["two@example.net"])
    body = two.get_content()
    assert "Buurt D (buurt-d)" in body and "Buurtgesprek plannen" in body
    assert "pools-c" not in body  # not due
    one = next(m.message for m in smtp_server.messages if m.rcpt_tos == ["one@example.net"])
    assert "Kerk B (kerk-b)" in one.get_content() and "nooit / never" in one.get_content()
    assert "moskee-a" not in one.get_content()  # due on 9 April: beyond 14 days

    # Sunday 28 March: the clocks go forward; a Sunday sends nothing.
    clock.set(_at("2027-03-28T08:30:00+02:00"))
    both_cycle()
    # st-two's communities are all fresh now: nothing due, so no digest for them this week.
    _log(store, "buurt-d", "st-two", _at("2027-03-28T09:00:00+02:00"))

    # Monday 29 March, CEST (UTC+2): 08:00 local is 06:00 UTC.
    clock.set(_at("2027-03-29T07:59:00+02:00"))
    both_cycle()
    assert len(received()) == 2
    clock.set(_at("2027-03-29T08:00:00+02:00"))
    assert clock.now() == datetime(2027, 3, 29, 6, 0, tzinfo=UTC)
    both_cycle()
    both_cycle()
    expected_sends.email("one@example.net", "two@example.net", "one@example.net")
    assert [r for r, _ in received()][2:] == ["one@example.net"]
    third = smtp_server.messages[2].message.get_content()
    assert "Moskee A (moskee-a)" in third  # due on 9 April: within 14 days now

    with session_scope(store) as session:
        claims = sorted((c.liaison_id, c.period) for c in session.exec(select(DigestClaim)))
        digests = session.exec(select(Message).where(Message.template == "peacetime-digest")
                               .order_by(Message.id)).all()
        events = session.exec(select(Event).where(Event.kind == "peacetime.digest")).all()
    assert len(events) == 3  # only the worker whose claim took wrote the digest
    assert claims == [("st-one", "2027-W12"), ("st-one", "2027-W13"), ("st-two", "2027-W12")]
    assert [(m.created_at, m.state) for m in digests] == [
        (datetime(2027, 3, 22, 7, 0, tzinfo=UTC), "accepted"),
        (datetime(2027, 3, 22, 7, 0, tzinfo=UTC), "accepted"),
        (datetime(2027, 3, 29, 6, 0, tzinfo=UTC), "accepted")]
