"""The contact log: visits, calls, meetings and events with communities in peace time.

A note is personal data: it is kept in `note` (subject `contactlog:ID`), so that purge erases
it with the contacts met or after the closed-incident term, and it is left out of listings
unless asked for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from engine.audit.events import record
from engine.audit.log import append
from engine.clock import iso_z
from engine.errors import InputError
from engine.incidents.options import text_problem
from engine.privacy.texts import keep_note, note_problem
from engine.store.models import (
    Community,
    Contact,
    ContactLog,
    ContactLogCommunity,
    ContactLogPerson,
    Note,
    Staff,
)

KINDS = ("visit", "call", "meeting", "event")
PLACE_CHARS = 200
MAX_COMMUNITIES = 50
MAX_PERSONS = 50


@dataclass
class ContactEntry:
    """One logged contact, as plain data."""

    id: int
    at: datetime
    kind: str
    by: str
    communities: list[str]
    persons: list[str] = field(default_factory=list)
    place: str | None = None
    neutral_ground: bool = False
    note: str | None = None  # only when asked for

    def as_dict(self) -> dict[str, Any]:
        """The `--json` form."""
        doc = {"id": self.id, "at": iso_z(self.at), "kind": self.kind, "by": self.by,
               "communities": self.communities, "with": self.persons, "place": self.place,
               "neutral_ground": self.neutral_ground}
        if self.note is not None:
            doc["note"] = self.note
        return doc


def note_subject(log_id: int) -> str:
    """The `note.subject` of a contact's note."""
    return f"contactlog:{log_id}"


def contact_problems(session: Session, *, communities: list[str], kind: str, by: str,
                     persons: list[str], at: datetime, now: datetime, place: str | None,
                     note: str | None) -> list[str]:
    """Everything wrong with a contact to log (empty: it can be logged)."""
    problems = []
    if kind not in KINDS:
        problems.append(f"--kind: '{kind}' is not one of {', '.join(KINDS)}")
    if not communities:
        problems.append("--community: at least one / minstens een gemeenschap")
    if len(communities) > MAX_COMMUNITIES or len(persons) > MAX_PERSONS:
        problems.append(f"at most {MAX_COMMUNITIES} communities and {MAX_PERSONS} contacts")
        return problems
    for community_id in communities:
        row = session.get(Community, community_id)
        if row is None or not row.active:
            problems.append(f"--community {community_id[:80]}: no such active community / "
                            "onbekende gemeenschap")
    staff = session.get(Staff, by)
    if staff is None or not staff.active:
        problems.append(f"--by {by[:80]}: no such active staff member / onbekende medewerker")
    for contact_id in persons:
        contact = session.get(Contact, contact_id)
        if contact is None:
            problems.append(f"--with {contact_id[:80]}: no such contact / onbekende "
                            "contactpersoon")
        elif contact.community_id not in communities:
            problems.append(f"--with {contact_id[:80]}: not a contact of the communities "
                            "given / hoort niet bij deze gemeenschap(pen)")
    if at > now:
        problems.append(f"--at {iso_z(at)}: in the future / in de toekomst")
    problem = text_problem("--place", place, PLACE_CHARS)
    if problem:
        problems.append(problem)
    problem = note_problem(note)
    if problem:
        problems.append(f"--note: {problem}")
    return problems


def log_contact(session: Session, *, communities: list[str], kind: str, by: str,
                persons: list[str], at: datetime, now: datetime, place: str | None = None,
                neutral_ground: bool = False, note: str | None = None,
                actor: str = "cli") -> ContactEntry:
    """Record a contact in the caller's transaction; InputError lists every problem."""
    communities = list(dict.fromkeys(communities))
    persons = list(dict.fromkeys(persons))
    problems = contact_problems(session, communities=communities, kind=kind, by=by,
                                persons=persons, at=at, now=now, place=place, note=note)
    if problems:
        raise InputError(problems)
    row = ContactLog(at=at, kind=kind, staff_id=by, place=place or None,
                     neutral_ground=neutral_ground, created_at=now, created_by=actor)
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add_all([ContactLogCommunity(log_id=row.id, community_id=c) for c in communities])
    session.add_all([ContactLogPerson(log_id=row.id, contact_id=p) for p in persons])
    row.note_id = keep_note(session, text=note, author=f"staff:{by}", at=now,
                            subject=note_subject(row.id))
    for community_id in communities:
        record(session, kind="peacetime.contact", at=now, community_id=community_id,
               actor=f"staff:{by}", log_id=row.id, contact_kind=kind,
               neutral_ground=neutral_ground, communities=len(communities))
    append(session, action="contact.log", object=f"contactlog:{row.id}", at=now,
           details={"communities": communities[:50], "kind": kind, "with": len(persons)})
    return ContactEntry(row.id, at, kind, by, communities, persons, place or None,
                        neutral_ground)


def list_contacts(conn: Connection, *, community: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  include_notes: bool = False) -> list[ContactEntry]:
    """Logged contacts, newest first; notes only when asked for."""
    log, lc, lp = (ContactLog.__table__, ContactLogCommunity.__table__,  # type: ignore[attr-defined]
                   ContactLogPerson.__table__)  # type: ignore[attr-defined]
    query = sa.select(log).order_by(log.c.at.desc(), log.c.id.desc())
    if community is not None:
        query = query.where(log.c.id.in_(sa.select(lc.c.log_id)
                                         .where(lc.c.community_id == community)))
    if since is not None:
        query = query.where(log.c.at >= since)
    if until is not None:
        query = query.where(log.c.at < until)
    rows = list(conn.execute(query).mappings())
    ids = [r["id"] for r in rows]
    communities: dict[int, list[str]] = defaultdict(list)
    persons: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for log_id, cid in conn.execute(sa.select(lc.c.log_id, lc.c.community_id)
                                        .where(lc.c.log_id.in_(chunk))
                                        .order_by(lc.c.community_id)):
            communities[log_id].append(cid)
        for log_id, pid in conn.execute(sa.select(lp.c.log_id, lp.c.contact_id)
                                        .where(lp.c.log_id.in_(chunk))
                                        .order_by(lp.c.contact_id)):
            persons[log_id].append(pid)
    notes = _notes(conn, [r["note_id"] for r in rows if r["note_id"]]) if include_notes else {}
    return [ContactEntry(r["id"], r["at"], r["kind"], r["staff_id"], communities[r["id"]],
                         persons[r["id"]], r["place"], bool(r["neutral_ground"]),
                         notes.get(r["note_id"]) if include_notes else None)
            for r in rows]


def _notes(conn: Connection, ids: list[int]) -> dict[int, str]:
    n = Note.__table__  # type: ignore[attr-defined]
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        for nid, text in conn.execute(sa.select(n.c.id, n.c.text)
                                      .where(n.c.id.in_(ids[start:start + 500]))):
            out[nid] = text
    return out


def last_contacts(conn: Connection) -> dict[str, datetime]:
    """Per community, the time of its last logged contact."""
    log, lc = ContactLog.__table__, ContactLogCommunity.__table__  # type: ignore[attr-defined]
    query = (sa.select(lc.c.community_id, sa.func.max(log.c.at))
             .join(log, log.c.id == lc.c.log_id).group_by(lc.c.community_id))
    return {cid: _aware(at) for cid, at in conn.execute(query)}


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # in case a driver hands the aggregate back without its type
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
