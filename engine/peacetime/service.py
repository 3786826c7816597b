"""Peace time's verbs: the contact log, agreements, who is due for contact, the liaison's
digest, handovers, crisis-readiness and the period's figures. Keyword-only; they take a
session (the caller commits) or an engine (the verb owns its transaction) and return plain
data, for the command line, the worker and the dashboard alike."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from engine.peacetime import agreements, digest, due, figures, handover, log, readiness
from engine.store.db import reading
from playbook.model import Playbook


def log_contact(*, session: Session, communities: list[str], kind: str, by: str,
                persons: list[str], at: datetime, now: datetime, place: str | None = None,
                neutral_ground: bool = False, note: str | None = None,
                actor: str = "cli") -> log.ContactEntry:
    """`contact log`: record a visit, call, meeting or event with one or more communities."""
    return log.log_contact(session, communities=communities, kind=kind, by=by,
                           persons=persons, at=at, now=now, place=place,
                           neutral_ground=neutral_ground, note=note, actor=actor)


def list_contacts(*, engine: Engine, community: str | None = None,
                  since: datetime | None = None,
                  include_notes: bool = False) -> list[log.ContactEntry]:
    """`contact list`: logged contacts, newest first; notes only when asked for."""
    with reading(engine).connect() as conn:
        return log.list_contacts(conn, community=community, since=since,
                                 include_notes=include_notes)


def add_agreement(*, session: Session, community: str, text: str, due: date | None,
                  now: datetime, actor: str = "cli") -> dict[str, Any]:
    """`agreement add`: a goal set together with a community."""
    return agreements.add_agreement(session, community=community, text=text, due=due,
                                    now=now, actor=actor)


def finish_agreement(*, session: Session, agreement_id: int, now: datetime,
                     actor: str = "cli") -> bool:
    """`agreement done`: False when it was done already."""
    return agreements.finish_agreement(session, agreement_id=agreement_id, now=now, actor=actor)


def open_agreements(*, engine: Engine, communities: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Open agreements of these communities (for `incident show` and the dashboard)."""
    with reading(engine).connect() as conn:
        return agreements.open_agreements(conn, communities)


def due_communities(*, engine: Engine, playbook: Playbook, now: datetime,
                    liaison: str | None = None) -> due.DueReport:
    """`peacetime due`: communities overdue or due soon, per liaison."""
    with reading(engine).connect() as conn:
        return due.due_report(conn, playbook=playbook, now=now, liaison=liaison)


def send_digests(*, engine: Engine, playbook: Playbook, now: datetime, worker: str) -> int:
    """The worker's digest round: queue this period's digests no process queued yet."""
    return digest.send_digests(engine, playbook=playbook, now=now, worker=worker)


def preview_digests(*, engine: Engine, playbook: Playbook, now: datetime,
                    liaison: str | None = None) -> list[dict[str, Any]]:
    """`peacetime digest`: what each liaison's digest would say now; nothing is queued."""
    return digest.digest_previews(engine, playbook=playbook, now=now, liaison=liaison)


def hand_over(*, session: Session, previous: str, liaison: str, communities: list[str],
              playbook: Playbook, now: datetime, actor: str = "cli") -> handover.Handover:
    """`staff handover`: move communities to a new liaison, brief them, introduce them."""
    return handover.hand_over(session, previous=previous, liaison=liaison,
                              communities=communities, playbook=playbook, now=now, actor=actor)


def crisis_readiness(*, engine: Engine, playbook: Playbook, now: datetime,
                     consent_stale_days: int) -> readiness.Readiness:
    """The peace-time sections of `registry health`."""
    with reading(engine).connect() as conn:
        return readiness.assess_readiness(conn, playbook=playbook, now=now,
                                          consent_stale_days=consent_stale_days)


def period_figures(*, engine: Engine, start: datetime, end: datetime,
                   zone: str) -> figures.PeacetimeFigures:
    """The figures of `peacetime report` over [start, end)."""
    with reading(engine).connect() as conn:
        return figures.assemble_figures(conn, start=start, end=end, zone=zone)
