"""The audit log: one hash chain, found broken where a row was edited, deleted, reordered or
inserted; audit and timeline rows the application cannot change; appends from many threads and
processes at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from engine.audit.log import GENESIS, append, row_hash, verify
from engine.store.db import make_engine, session_scope
from engine.store.models import AuditEntry
from tests.tampering import bypass_append_only

ROOT = Path(__file__).resolve().parents[2]
T = AuditEntry.__table__


def add_entries(engine: Engine, n: int, start: int = 0) -> None:
    """n audit rows, each in a transaction of its own."""
    for i in range(start, start + n):
        with session_scope(engine) as session:
            append(session, actor="staff:test", action="test.step", object=f"thing:{i}",
                   details={"i": i})


def entries(engine: Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(T).order_by(T.c.id)))


def changed(row: sa.Row, **fields: object) -> SimpleNamespace:
    """A copy of a row with some fields changed."""
    return SimpleNamespace(**{**row._asdict(), **fields})


def tamper(engine: Engine, *statements: tuple[str, dict]) -> None:
    """Run statements as someone with the database's own rights (the triggers bypassed)."""
    with engine.begin() as conn:
        bypass_append_only(conn)
        for sql, params in statements:
            conn.execute(sa.text(sql), params)


def test_appends_make_one_chain_that_verifies(any_engine: Engine) -> None:
    add_entries(any_engine, 5)
    rows = entries(any_engine)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(r.hash == row_hash(r) for r in rows)
    report = verify(any_engine)
    assert report.ok and report.rows == 5 and report.head_seq == 5
    assert report.head_hash == rows[-1].hash


def test_the_hash_covers_every_field(any_engine: Engine) -> None:
    """Hashing is over a canonical serialisation: recomputing it by hand gives the stored one."""
    add_entries(any_engine, 1)
    (row,) = entries(any_engine)
    at = row.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = ('{"action":"test.step","actor":"staff:test","at":"' + at + '",'
            '"details":"{\\"i\\":0}","object":"thing:0","prev":"' + GENESIS + '",'
            '"result":"ok","seq":1,"source":"' + row.source + '","v":1}')
    assert row.hash == hashlib.sha256(text.encode()).hexdigest()


def test_a_rolled_back_change_leaves_no_audit_row(any_engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(any_engine) as session:
        append(session, action="test.step")
        raise RuntimeError("the change failed")
    add_entries(any_engine, 1)
    assert [r.seq for r in entries(any_engine)] == [1]


def test_an_edited_row_is_named(any_engine: Engine) -> None:
    add_entries(any_engine, 5)
    third = entries(any_engine)[2]
    tamper(any_engine, ("UPDATE auditentry SET actor = 'staff:someone-else' WHERE id = :id",
                        {"id": third.id}))
    report = verify(any_engine)
    assert not report.ok and report.rows == 2
    assert (report.broken.row_id, report.broken.problem) == (third.id, "edited")


def test_an_edited_row_whose_hash_was_recomputed_is_named(any_engine: Engine) -> None:
    add_entries(any_engine, 5)
    third = entries(any_engine)[2]
    forged = changed(third, details='{"i":99}')
    tamper(any_engine, ("UPDATE auditentry SET details = :d, hash = :h WHERE id = :id",
                        {"d": forged.details, "h": row_hash(forged), "id": third.id}))
    broken = verify(any_engine).broken
    assert broken is not None
    assert (broken.row_id, broken.problem) == (third.id, "edited")


def test_a_deleted_row_is_named(any_engine: Engine) -> None:
    add_entries(any_engine, 5)
    rows = entries(any_engine)
    tamper(any_engine, ("DELETE FROM auditentry WHERE id = :id", {"id": rows[2].id}))
    broken = verify(any_engine).broken
    assert broken is not None
    assert (broken.row_id, broken.problem) == (rows[3].id, "deleted")
    assert "seq 3 missing" in broken.detail


def test_reordered_rows_are_named(any_engine: Engine) -> None:
    """Rows 2 and 3 trade places (every field but the id)."""
    add_entries(any_engine, 5)
    rows = entries(any_engine)
    a, b = rows[1], rows[2]
    fields = [c.name for c in T.c if c.name != "id"]
    sets = ", ".join(f"{f} = :{f}" for f in fields)
    tamper(any_engine,
           ("UPDATE auditentry SET seq = -1, hash = 'x' WHERE id = :id", {"id": a.id}),
           (f"UPDATE auditentry SET {sets} WHERE id = :id",
            {**{f: getattr(a, f) for f in fields}, "id": b.id}),
           (f"UPDATE auditentry SET {sets} WHERE id = :id",
            {**{f: getattr(b, f) for f in fields}, "id": a.id}))
    broken = verify(any_engine).broken
    assert broken is not None
    assert (broken.row_id, broken.problem) == (a.id, "reordered")


def test_an_inserted_row_is_named(any_engine: Engine) -> None:
    """A row added past the application, with a hash of its own, that does not chain."""
    add_entries(any_engine, 3)
    last = entries(any_engine)[-1]
    forged = changed(last, seq=4, actor="staff:forger", prev_hash="f" * 64, hash="")
    values = {c.name: getattr(forged, c.name) for c in T.c if c.name != "id"}
    values["hash"] = row_hash(forged)
    with any_engine.begin() as conn:  # inserting needs no tampering: the application may
        conn.execute(sa.insert(T).values(**values))
    rows = entries(any_engine)
    broken = verify(any_engine).broken
    assert broken is not None
    assert (broken.row_id, broken.problem) == (rows[3].id, "inserted")
    add_entries(any_engine, 1, start=10)  # the next real append chains onto the forged row
    broken = verify(any_engine).broken
    assert broken is not None and (broken.row_id, broken.seq) == (rows[2].id, 3)
    assert f"or row {rows[3].id} was inserted" in broken.detail


@pytest.mark.postgres
def test_a_row_inserted_in_the_middle_is_named(pg_engine: Engine) -> None:
    """Someone who drops the seq constraint and adds a second row 2, chained to row 1."""
    add_entries(pg_engine, 4)
    first = entries(pg_engine)[0]
    forged = changed(first, seq=2, actor="staff:forger", prev_hash=first.hash, hash="")
    values = {c.name: getattr(forged, c.name) for c in T.c if c.name != "id"}
    values["hash"] = row_hash(forged)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE auditentry DROP CONSTRAINT auditentry_seq_key")
        forged_id = conn.execute(sa.insert(T).values(**values).returning(T.c.id)).scalar()
    broken = verify(pg_engine).broken
    assert broken is not None and broken.problem == "inserted"
    assert broken.row_id == forged_id and "also claims seq 2" in broken.detail


def test_rows_cut_off_the_end_are_found_against_a_noted_head(any_engine: Engine) -> None:
    add_entries(any_engine, 4)
    noted = verify(any_engine)
    rows = entries(any_engine)
    tamper(any_engine, ("DELETE FROM auditentry WHERE id = :id", {"id": rows[-1].id}))
    assert verify(any_engine).ok, "without a noted head a cut tail cannot be seen"
    report = verify(any_engine, anchor=(noted.head_seq, noted.head_hash))
    assert report.broken is not None and report.broken.problem == "deleted"
    assert verify(any_engine, anchor=(3, rows[2].hash)).ok
    assert verify(any_engine, anchor=(2, rows[2].hash)).broken.problem == "edited"


@pytest.mark.parametrize("table", ["auditentry", "event"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET at = at", "DELETE FROM {t}"])
def test_the_application_cannot_change_audit_or_timeline_rows(
    any_engine: Engine, table: str, statement: str
) -> None:
    add_entries(any_engine, 2)
    with any_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO event (at, kind, actor, data) VALUES "
                             "('2026-03-01 09:00:00', 'test', 'system', '{}')")
    with pytest.raises(DBAPIError, match="only ever added"), any_engine.begin() as conn:
        conn.exec_driver_sql(statement.format(t=table))
    assert verify(any_engine).rows == 2


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["auditentry", "event"])
def test_postgresql_refuses_truncate_too(pg_engine: Engine, table: str) -> None:
    add_entries(pg_engine, 1)
    with pytest.raises(DBAPIError, match="only ever added"), pg_engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    assert verify(pg_engine).rows == 1


def test_appends_from_many_threads_make_one_chain(any_engine: Engine) -> None:
    threads, each = 6, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            start.wait(30)
            add_entries(any_engine, each, start=n * 100)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=appender, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors
    report = verify(any_engine)
    assert report.ok and report.rows == threads * each
    assert sorted(r.seq for r in entries(any_engine)) == list(range(1, threads * each + 1))


APPENDER = """
import sys
from engine.audit.log import append
from engine.store.db import make_engine, session_scope
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    with session_scope(engine) as session:
        append(session, actor="worker:" + sys.argv[2], action="test.step", object=f"n:{i}")
"""


@pytest.fixture(params=["sqlite", "postgres"])
def any_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of this test, by URL (for other processes)."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine.url.render_as_string(hide_password=False)


def test_appends_from_several_processes_make_one_chain(any_url: str) -> None:
    """Three processes append at once (released together once all are connected)."""
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, any_url, str(n), "15"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT) for n in range(3)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            assert p.wait(120) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    engine = make_engine(any_url)
    try:
        report = verify(engine)
        assert report.ok and report.rows == 45
        actors = {r.actor for r in entries(engine)}
        assert actors == {"worker:0", "worker:1", "worker:2"}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_transaction_waiting_for_a_row_lock_holds_no_chain_lock(pg_engine: Engine) -> None:
    """Two transactions that each hold a row the other wants next, and each append: the
    chain's lock is taken only at commit, so the one that waits holds no chain lock meanwhile
    and both commit (an append that locked the chain at once would deadlock here)."""
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('x', '0'), ('y', '0')")
    first_holds_x, second_holds_y = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope(pg_engine) as session:
                session.execute(sa.text("SELECT * FROM meta WHERE key = 'x' FOR UPDATE"))
                append(session, action="test.first")
                first_holds_x.set()
                assert second_holds_y.wait(30)
        except BaseException as exc:
            errors.append(exc)

    def second() -> None:
        try:
            assert first_holds_x.wait(30)
            with session_scope(pg_engine) as session:
                session.execute(sa.text("SELECT * FROM meta WHERE key = 'y' FOR UPDATE"))
                append(session, action="test.second")
                second_holds_y.set()
                # waits for the first's row; the first meanwhile commits its append
                session.execute(sa.text("SELECT * FROM meta WHERE key = 'x' FOR UPDATE"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    report = verify(pg_engine)
    assert report.ok and [r.action for r in entries(pg_engine)] == ["test.first",
                                                                    "test.second"]


def test_the_canonical_form_is_sorted_compact_ascii_json() -> None:
    """The hand-built canonical form is exactly json.dumps' (so anyone can recompute it)."""
    import json
    from datetime import UTC, datetime

    from engine.audit.log import canonical

    for obj, source in ((None, None), ('ob"j\\ é\u202e', "host/pid 1")):
        row = SimpleNamespace(seq=7, at=datetime(2026, 3, 1, 9, 0, 0, 5, tzinfo=UTC),
                              actor="cli:ü@h", action="a.b", object=obj, result="ok",
                              source=source, details='{"x":"\\u00e9"}', prev_hash="0" * 64)
        expected = json.dumps({"v": 1, "seq": 7, "at": "2026-03-01T09:00:00.000005Z",
                               "actor": row.actor, "action": row.action, "object": obj,
                               "result": "ok", "source": source, "details": row.details,
                               "prev": row.prev_hash}, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=True)
        assert canonical(row) == expected.encode("ascii")
