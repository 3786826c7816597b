"""The audit log: who changed what, when and from where, as a hash chain.

Every row holds the SHA-256 of a canonical serialisation of its fields and of the row before
it (`prev_hash`), and its place in the chain (`seq`). `verify` walks the rows and names the
first link that is broken: a row edited, deleted, reordered or inserted. Rows are only ever
added (triggers of migration 0007 refuse UPDATE and DELETE).

`append` is called in the transaction of the change it records. It queues the entry on the
session; the entry is chained and written when that transaction commits, after every other
change of it was flushed, so the chain's lock (PostgreSQL: a transaction advisory lock;
SQLite: its writers take turns anyway) is taken last and held only for the commit: appends
from many processes make one chain, and no transaction waits for the chain's lock while it
holds a row lock another appender needs. A refused or failed action is recorded in a
transaction of its own (`record_outcome`).

Who acted: the `actor` a call site gives (`contact:p3` for an SMS, `sms`), unless the process
acts for a known person (`act_as`: a command's `cli:USER@HOST`, later a web user), who is then
the actor, the call site's actor going into the details as `as`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from engine.audit.acting import (  # noqa: F401  (re-exported: callers import them here)
    Acting,
    act_as,
    acting,
    cli_actor,
    current_acting,
    process_source,
)
from engine.clock import as_utc
from engine.store.db import reading, session_scope
from engine.store.models import AuditEntry

log = logging.getLogger(__name__)

GENESIS = "0" * 64  # the `prev_hash` of the first row
FORMAT = 1  # the version of the canonical serialisation, hashed with every row
RESULTS = ("ok", "refused", "error")
# The chain's PostgreSQL advisory lock; the migration lock is 0x564D_0000_0001 and workers'
# life locks carry 0x5645 in their upper half.
AUDIT_LOCK = 0x564D_0000_0002
LIMITS = {"actor": 200, "action": 64, "object": 300, "source": 200}
DETAIL_TEXT = 200  # characters of one text value in the details
DETAILS_CHARS = 4000  # of the whole details document
_PENDING = "verbinder_audit_pending"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# --- the canonical form ---------------------------------------------------------------------


def _text(value: object, limit: int) -> str:
    """A field as storable text: no control characters, no lone surrogates, bounded."""
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping) and depth < 4:
        return {_text(k, 64): _bounded(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple | set | frozenset) and depth < 4:
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        return [_bounded(v, depth + 1) for v in items[:50]]
    return _text(value, DETAIL_TEXT)


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """The details as stored and hashed: sorted JSON, ASCII only, bounded in size."""
    text = _dumps(_bounded(dict(details or {})))
    if len(text) > DETAILS_CHARS:
        text = _dumps({"truncated": True, "keys": sorted(_text(k, 64) for k in details or {})
                       [:20]})
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def time_text(at: datetime) -> str:
    """A time as hashed: UTC with microseconds."""
    return as_utc(at).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_string = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str (in C)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _string(value)


def canonical(row: Any) -> bytes:
    """The bytes a row's hash is taken over: every field but `id` and `hash` itself, as
    `json.dumps({...}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)` writes them
    (built by hand: verifying a long chain spent most of its time in json.dumps)."""
    return (
        f'{{"action":{_string(row.action)},"actor":{_string(row.actor)},'
        f'"at":"{time_text(row.at)}","details":{_string(row.details)},'
        f'"object":{_text_or_null(row.object)},"prev":{_string(row.prev_hash)},'
        f'"result":{_string(row.result)},"seq":{int(row.seq)},'
        f'"source":{_text_or_null(row.source)},"v":{FORMAT}}}'
    ).encode("ascii")


def row_hash(row: Any) -> str:
    """The SHA-256 a row must carry."""
    return hashlib.sha256(canonical(row)).hexdigest()


# --- appending ------------------------------------------------------------------------------


def append(
    session: Session,
    *,
    actor: str | None = None,
    action: str,
    object: str | None = None,
    result: str = "ok",
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Record a change in the session's transaction; chained and written when it commits."""
    if result not in RESULTS:
        raise ValueError(f"audit result {result!r}: not one of {', '.join(RESULTS)}")
    acting_now = current_acting()
    who = acting_now.actor or actor or "system"
    extra = dict(details or {})
    if acting_now.actor and actor and actor != acting_now.actor:
        extra.setdefault("as", actor)
    entry = AuditEntry(
        seq=0, at=as_utc(at) if at else datetime.now(UTC), actor=_text(who, LIMITS["actor"]),
        action=_text(action, LIMITS["action"]),
        object=None if object is None else _text(object, LIMITS["object"]),
        result=result,
        source=_text(source or acting_now.source or process_source(), LIMITS["source"]),
        details=canonical_details(extra), prev_hash="", hash="",
    )
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


def record_outcome(engine: Engine, *, action: str, result: str, actor: str | None = None,
                   object: str | None = None,
                   details: Mapping[str, Any] | None = None,
                   at: datetime | None = None) -> AuditEntry:
    """Record a refused or failed action in a transaction of its own."""
    with session_scope(engine) as session:
        return append(session, actor=actor, action=action, object=object, result=result,
                      details=details, at=at)


def write_pending(session: OrmSession) -> list[AuditEntry]:
    """Chain and insert the entries queued on this session, now (normally at commit)."""
    entries: list[AuditEntry] = session.info.pop(_PENDING, None) or []
    if not entries:
        return []
    session.flush()  # the recorded change first: its row locks come before the chain's lock
    conn = session.connection()
    lock_chain(conn)
    table = AuditEntry.__table__
    head = conn.execute(sa.select(table.c.seq, table.c.hash)
                        .order_by(table.c.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.hash = prev = row_hash(entry)
        values = {c.name: getattr(entry, c.name) for c in table.c if c.name != "id"}
        entry.id = conn.execute(sa.insert(table).values(**values)
                                .returning(table.c.id)).scalar_one()
    return entries


def lock_chain(conn: Connection) -> None:
    """Take the chain's lock until the transaction ends (SQLite: the writer already has it)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({AUDIT_LOCK})")


@sa_event.listens_for(OrmSession, "before_commit")
def _chain_at_commit(session: OrmSession) -> None:
    write_pending(session)


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _forget_at_rollback(session: OrmSession, previous_transaction: Any) -> None:
    if not previous_transaction.nested:  # a savepoint's rollback keeps the outer change
        session.info.pop(_PENDING, None)


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain does not hold."""

    row_id: int
    seq: int | None
    problem: str  # edited | deleted | reordered | inserted
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"row": self.row_id, "seq": self.seq, "problem": self.problem,
                "detail": self.detail}


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found: the rows that chain, the head, and the first broken link."""

    rows: int
    head_seq: int = 0
    head_hash: str = GENESIS
    broken: BrokenLink | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the whole chain holds."""
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        """The `audit verify --json` document."""
        return {"ok": self.ok, "rows": self.rows,
                "head": {"seq": self.head_seq, "hash": self.head_hash},
                "broken": self.broken.as_dict() if self.broken else None, "notes": self.notes}


@dataclass(frozen=True)
class _Link:
    id: int | None
    seq: int
    hash: str


_START = _Link(None, 0, GENESIS)


def verify(engine: Engine, *, anchor: tuple[int, str] | None = None) -> VerifyReport:
    """Walk the chain in the order the rows were stored and name the first broken link.

    `anchor` (seq, hash), a head noted down earlier: the chain must still hold that row with
    that hash (a rewritten history or a cut-off tail is found too).
    """
    table = AuditEntry.__table__
    with reading(engine).connect() as conn, conn.begin():
        rows = conn.execution_options(stream_results=True, yield_per=2000).execute(
            sa.select(table).order_by(table.c.id))
        it = iter(rows)
        prev, count, anchored = _START, 0, anchor is None
        for row in it:
            if row.hash != row_hash(row) or row.seq != prev.seq + 1 \
                    or row.prev_hash != prev.hash:
                broken = _classify(conn, prev, row, next(it, None))
                rows.close()
                return VerifyReport(count, prev.seq, prev.hash, broken)
            if anchor is not None and row.seq == anchor[0]:
                if row.hash != anchor[1]:
                    rows.close()
                    return VerifyReport(count, prev.seq, prev.hash, BrokenLink(
                        row.id, row.seq, "edited", f"seq {row.seq} no longer has the hash "
                        "noted down: the chain was rewritten from here or before"))
                anchored = True
            prev, count = _Link(row.id, row.seq, row.hash), count + 1
    if not anchored:
        assert anchor is not None
        return VerifyReport(count, prev.seq, prev.hash, BrokenLink(
            prev.id or 0, None, "deleted", f"the chain ends at seq {prev.seq}, before the "
            f"noted seq {anchor[0]}: rows at its end were deleted"))
    return VerifyReport(count, prev.seq, prev.hash)


def _classify(conn: Connection, prev: _Link, row: Any, nxt: Any) -> BrokenLink:
    """What the break between `prev` and `row` is (`nxt`: the row stored after, if any)."""
    table = AuditEntry.__table__
    expect = prev.seq + 1
    if row.hash != row_hash(row):
        return BrokenLink(row.id, row.seq, "edited", "its fields no longer match its hash")
    same = conn.execute(sa.select(sa.func.count()).where(table.c.seq == row.seq)).scalar()
    if same and same > 1:
        return BrokenLink(row.id, row.seq, "inserted", f"another row also claims seq {row.seq}")
    pred = conn.execute(sa.select(table.c.id, table.c.hash)
                        .where(table.c.seq == row.seq - 1)).first()
    if pred is not None and pred.hash == row.prev_hash:  # a true link, stored out of place
        return BrokenLink(row.id, row.seq, "reordered", f"seq {row.seq} is stored after seq "
                          f"{prev.seq}, not after seq {row.seq - 1} (row {pred.id})")
    if pred is None and row.seq > 1 and row.seq > expect:
        moved = conn.execute(sa.select(table.c.id).where(
            table.c.seq >= expect, table.c.seq < row.seq, table.c.id > row.id)
            .order_by(table.c.seq).limit(1)).scalar()
        if moved is not None:
            return BrokenLink(row.id, row.seq, "reordered", f"seq {row.seq} is stored before "
                              f"seq {expect} (row {moved})")
        gap = f"seq {expect}" if row.seq == expect + 1 else f"seq {expect}..{row.seq - 1}"
        return BrokenLink(row.id, row.seq, "deleted", f"{gap} missing before this row")
    if nxt is not None and nxt.seq == expect and nxt.prev_hash == prev.hash:
        return BrokenLink(row.id, row.seq, "inserted", f"not part of the chain: row {nxt.id} "
                          f"follows {_name(prev)}")
    if row.seq != expect or prev.id is None:
        return BrokenLink(row.id, row.seq, "inserted", f"does not chain to {_name(prev)}: "
                          f"seq {row.seq} claims a predecessor that is not stored")
    if nxt is None or nxt.prev_hash != row.hash:
        return BrokenLink(row.id, row.seq, "inserted", f"does not chain to {_name(prev)} "
                          f"(inserted, or row {prev.id} was edited and its hash recomputed)")
    return BrokenLink(prev.id, prev.seq, "edited", f"changed after row {row.id} was chained to "
                      f"it (its hash was recomputed), or row {row.id} was inserted")


def _name(link: _Link) -> str:
    return "the start of the chain" if link.id is None else f"row {link.id}"


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` as noted from an earlier `audit verify`."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("not SEQ:HASH (a number, a colon and 64 hexadecimal digits)")
    return int(seq), digest
