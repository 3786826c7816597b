"""Free text that people write (SMS replies, notes) and intake answers, kept out of the timeline.

Timeline rows (`event`) never change, so what purge must be able to erase lives in rows of its
own: `reply`, `note`, `intakeanswer`; an event names them by id (`reply_id`, `note_id`,
`answer_id`, `previous_id`). `timeline_texts` puts the texts back for whoever shows a timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.store.models import Event, IntakeAnswer, Note, Reply

NOTE_CHARS = 2000
REPLY_CHARS = 1600  # the longest SMS body Twilio hands over
# In a note: no control character but tab and newline, no bidi override or isolate.
_NOTE_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# event key -> (the key it is shown under, the table, what is shown of a row)
REFERENCES: dict[str, tuple[str, Any, str]] = {
    "reply_id": ("text", Reply, "text"),
    "note_id": ("note", Note, "text"),
    "answer_id": ("answers", IntakeAnswer, "answers"),
    "previous_id": ("previous", IntakeAnswer, "answers"),
}
_REFERENCE_KEYS = frozenset(REFERENCES)


def note_problem(text: str | None) -> str | None:
    """What is wrong with a note a person typed (too long, control characters), or None."""
    if text is None:
        return None
    if len(text) > NOTE_CHARS:
        return f"at most {NOTE_CHARS} characters (this one has {len(text)})"
    if _NOTE_CONTROL.search(text):
        return "holds a control character (only tab and newline are allowed)"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "is not valid text (a lone surrogate)"
    return None


def storable(text: str, limit: int) -> str:
    """Text a database keeps as it is: bounded, valid UTF-8, no NUL (PostgreSQL refuses it)."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def keep_note(session: Session, *, text: str | None, author: str, at: datetime,
              incident_id: int | None = None, subject: str | None = None) -> int | None:
    """Store a note (None when there is none) and return its id for the event."""
    if text is None or not text.strip():
        return None
    note = Note(incident_id=incident_id, subject=subject, author=author,
                text=storable(text, NOTE_CHARS), at=at)
    session.add(note)
    session.flush()
    return note.id


def keep_reply(session: Session, *, text: str, sender: str, at: datetime,
               incident_id: int | None) -> int:
    """Store the text of an SMS reply and return its id for the `inbound.reply` event."""
    reply = Reply(incident_id=incident_id, sender=sender, text=storable(text, REPLY_CHARS),
                  at=at)
    session.add(reply)
    session.flush()
    assert reply.id is not None
    return reply.id


def timeline_texts(session: Session, events: Iterable[Event]) -> dict[int, dict[str, Any]]:
    """Per event id, its data with the texts it names put back (`text`, `note`, `answers`,
    `previous`; None once purge erased them), in one query per kind of text."""
    events = list(events)
    datas = with_texts(session.connection(), [e.data for e in events])
    return {e.id or 0: data for e, data in zip(events, datas, strict=True)}


def with_texts(conn: Connection, datas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events' data with the texts they name put back (see `timeline_texts`), for a reader of
    plain rows (an export streams them in batches); one query per kind of text."""
    if not any(_REFERENCE_KEYS & data.keys() for data in datas):
        return datas  # most events name no text: nothing to look up or copy
    wanted: dict[Any, set[int]] = {}
    for data in datas:
        for key, (_, table, _) in REFERENCES.items():
            ref = data.get(key)
            if isinstance(ref, int):
                wanted.setdefault(table, set()).add(ref)
    rows: dict[Any, dict[int, Any]] = {}
    for table, ids in wanted.items():
        t = table.__table__
        rows[table] = {r.id: r for r in conn.execute(
            sa.select(t).where(t.c.id.in_(sorted(ids))))}
    out = []
    for original in datas:
        if not _REFERENCE_KEYS & original.keys():
            out.append(original)
            continue
        data = dict(original)
        for key, (shown, table, column) in REFERENCES.items():
            if key in data:
                row = rows.get(table, {}).get(data.pop(key))
                data[shown] = _shown(row, column)
        out.append(data)
    return out


def _shown(row: Any, column: str) -> Any:
    if row is None:
        return None
    value = getattr(row, column)
    if column == "text" and row.erased_at is not None:
        return None
    return value
