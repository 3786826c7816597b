"""The liaison's digest: once per period (a week or a day), from the playbook's local hour on,
an email listing their communities due for contact. Nothing due: no email.

Once per period also with several workers: the sender first inserts the claim row
(`peacetimedigest`, primary key liaison and period) with ON CONFLICT DO NOTHING, and only the
worker whose insert took writes the message, in the same transaction. The message's dedupe
key names the period too, so even a second claim could not make a second email.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from engine.audit.events import record
from engine.outreach.outbox import Draft, dedupe_key, enqueue
from engine.peacetime.due import NO_LIAISON, due_report
from engine.peacetime.texts import DIGEST_SUBJECT, digest_body
from engine.store.db import reading, session_scope
from engine.store.models import DigestClaim, Message, Staff
from playbook.model import DigestSchedule, Playbook

log = logging.getLogger(__name__)


def digest_period(now: datetime, schedule: DigestSchedule, zone: str) -> str | None:
    """The period whose digest may go out now, or None: from the schedule's local hour to the
    end of that local day (the weekday's, for a weekly digest)."""
    local = now.astimezone(ZoneInfo(zone))
    if local.hour < schedule.hour:
        return None
    if schedule.every == "daily":
        return local.date().isoformat()
    if local.weekday() != schedule.weekday:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def send_digests(engine: Engine, *, playbook: Playbook, now: datetime,
                 worker: str) -> int:
    """Queue the digests of this period that no process queued yet; how many were queued."""
    if playbook.peacetime is None:
        return 0
    period = digest_period(now, playbook.peacetime.digest, playbook.timezone)
    if period is None:
        return 0
    with reading(engine).connect() as conn:
        claimed = _claimed(conn, period)
        report = due_report(conn, playbook=playbook, now=now)
    queued = 0
    for liaison, items in sorted(report.liaisons.items()):
        if liaison == NO_LIAISON or liaison in claimed or not items:
            continue
        with session_scope(engine) as session:
            conn = session.connection()
            if not _claim(conn, liaison, period, now, worker, len(items)):
                continue
            staff = session.get(Staff, liaison)
            if staff is None or not staff.active or not staff.email:
                record(session, kind="peacetime.digest_skipped", at=now, actor=f"worker:{worker}",
                       liaison=liaison, period=period, reason="no email")
                continue
            step = f"peacetime:digest:{period}"
            draft = Draft(
                dedupe_key=dedupe_key(None, f"staff:{liaison}", step, "email"),
                incident_id=None, community_ids=[i["community"] for i in items],
                recipient_kind="staff", recipient_id=liaison, channel="email",
                address=staff.email, locale=playbook.default_locale,
                subject=DIGEST_SUBJECT.format(count=len(items)),
                body=digest_body(liaison=staff.name, items=items, municipality=playbook.name),
                step=step, template="peacetime-digest")
            if enqueue(session, draft, now):
                queued += 1
                m = Message.__table__  # type: ignore[attr-defined]
                message_id = conn.execute(sa.select(m.c.id).where(
                    m.c.dedupe_key == draft.dedupe_key)).scalar_one()
                d = DigestClaim.__table__  # type: ignore[attr-defined]
                conn.execute(sa.update(d).where(d.c.liaison_id == liaison,
                                                d.c.period == period)
                             .values(message_id=message_id))
            record(session, kind="peacetime.digest", at=now, actor=f"worker:{worker}",
                   liaison=liaison, period=period, communities=len(items))
    if queued:
        log.info("peace-time digests queued: %s (%s)", queued, period)
    return queued


def digest_previews(engine: Engine, *, playbook: Playbook, now: datetime,
                    liaison: str | None = None) -> list[dict[str, Any]]:
    """What each liaison's digest would say now (nothing is queued): recipient, subject,
    body and the communities, for liaisons with something due."""
    with reading(engine).connect() as conn:
        report = due_report(conn, playbook=playbook, now=now, liaison=liaison)
        staff = {r.id: r for r in conn.execute(sa.select(Staff.__table__))}  # type: ignore[attr-defined]
    out = []
    for lid, items in sorted(report.liaisons.items()):
        member = staff.get(lid)
        if lid == NO_LIAISON or member is None or not items:
            continue
        out.append({"liaison": lid, "email": member.email,
                    "subject": DIGEST_SUBJECT.format(count=len(items)),
                    "body": digest_body(liaison=member.name, items=items,
                                        municipality=playbook.name),
                    "communities": [i["community"] for i in items]})
    return out


def _claimed(conn: Connection, period: str) -> set[str]:
    d = DigestClaim.__table__  # type: ignore[attr-defined]
    return set(conn.execute(sa.select(d.c.liaison_id).where(d.c.period == period)).scalars())


def _claim(conn: Connection, liaison: str, period: str, now: datetime, worker: str,
           communities: int) -> bool:
    """Insert the claim unless another process did; True when this one took it."""
    d = DigestClaim.__table__  # type: ignore[attr-defined]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(d).values(liaison_id=liaison, period=period, claimed_at=now,
                                    claimed_by=worker[:200], communities=communities)
    # RETURNING, not rowcount: psycopg's rowcount of this statement is not 0 when it did nothing
    taken = conn.execute(stmt.on_conflict_do_nothing(index_elements=["liaison_id", "period"])
                         .returning(d.c.liaison_id)).first()
    return taken is not None
