"""What the link pages read and write: an acknowledgement link and an intake link.

Each function runs in one transaction of its own (the web application runs it in a thread).
A link of a closed incident records nothing; an intake link keeps one current answer per
community, a later answer replacing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from engine.inbound.service import record_intake
from engine.incidents.flows import acknowledge
from engine.links import tokens
from engine.playbooks.frozen import playbook_of
from engine.store.models import Community, Incident, IntakeAnswer, IntakeToken

GONE, CLOSED, DONE, UNCHANGED = "gone", "closed", "done", "unchanged"


@dataclass(frozen=True)
class LinkView:
    """What a link page shows of its link."""

    locale: str
    closed: bool  # the incident is closed: the page says so and records nothing
    used: bool
    form: Any = None  # the intake form, for intake links
    communities: list[str] = field(default_factory=list)  # their names
    municipality: str = ""
    default_locale: str = "nl"
    current: dict[str, Any] = field(default_factory=dict)  # the link's current answer


def view_link(session: Session, *, secret: str, token: str, purpose: str,
              now: datetime) -> LinkView | None:
    """The page of a link, or None when it is not ours, not of this purpose, or expired."""
    row = tokens.resolve(session, secret=secret, token=token, purpose=purpose, now=now)
    if row is None:
        return None
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return None
    closed = incident.status != "open"
    if purpose != "intake":
        return LinkView(row.locale, closed, row.used_at is not None)
    playbook = playbook_of(incident)
    names = [c.name for c in (session.get(Community, i) for i in row.community_ids) if c]
    current = session.exec(select(IntakeAnswer.answers).where(
        IntakeAnswer.link == row.token_hash).order_by(col(IntakeAnswer.id))).first()
    return LinkView(row.locale, closed, row.used_at is not None,
                    form=playbook.intake_forms[row.form_id], communities=names,
                    municipality=playbook.name, default_locale=playbook.default_locale,
                    current=dict(current or {}))


def _open_link(session: Session, secret: str, token: str, purpose: str,
               now: datetime) -> tuple[IntakeToken | None, str | None]:
    """The link's row, locked, and GONE or CLOSED when nothing may be recorded through it."""
    row = tokens.resolve(session, secret=secret, token=token, purpose=purpose, now=now,
                         lock=True)
    if row is None:
        return None, GONE
    # Shared with other submissions, exclusive of a close: none records after a close.
    status = session.exec(select(Incident.status).where(Incident.id == row.incident_id)
                          .with_for_update(read=True)).first()
    if status is None:
        return None, GONE
    return row, (CLOSED if status != "open" else None)


def acknowledge_link(session: Session, *, secret: str, token: str,
                     now: datetime) -> tuple[str, str]:
    """Acknowledge through an ack link: DONE, or GONE / CLOSED with nothing recorded; and the
    link's language."""
    row, refused = _open_link(session, secret, token, "ack", now)
    if row is None or refused:
        return refused or GONE, row.locale if row is not None else "nl"
    acknowledge(session, incident_id=row.incident_id, community_ids=list(row.community_ids),
                by=f"{row.recipient_kind}:{row.recipient_id}", now=now, via="link")
    row.used_at = row.used_at or now
    return DONE, row.locale


def answer_link(session: Session, *, secret: str, token: str, answers: dict[str, Any],
                now: datetime) -> str:
    """Record an intake answer through its link: DONE (recorded or changed), UNCHANGED (the
    same answer again), or GONE / CLOSED with nothing recorded."""
    row, refused = _open_link(session, secret, token, "intake", now)
    if row is None or refused:
        return refused or GONE
    changed = record_intake(session, incident_id=row.incident_id,
                            community_ids=list(row.community_ids), contact_id=row.recipient_id,
                            form_id=row.form_id or "", answers=answers, source="web", now=now,
                            link=row.token_hash)
    row.used_at = now if changed else row.used_at or now
    return DONE if changed else UNCHANGED
