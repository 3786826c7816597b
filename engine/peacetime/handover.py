"""A handover: communities move to a new liaison, who gets a briefing; each key figure with
consent gets an introduction of the new liaison in their language. All in one transaction:
the move, the liaison history, and the messages in the outbox."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.audit.events import record
from engine.audit.log import append
from engine.errors import InputError
from engine.outreach.compose import contact_recipient
from engine.outreach.outbox import Draft, dedupe_key, enqueue_all
from engine.peacetime.agreements import open_agreements
from engine.peacetime.due import local_text
from engine.peacetime.log import list_contacts
from engine.peacetime.texts import (
    BRIEFING_SUBJECT,
    briefing_body,
    intro_language,
    introduction,
)
from engine.playbooks.frozen import playbook_of
from engine.store.models import (
    Community,
    Contact,
    Incident,
    IncidentTask,
    IntakeAnswer,
    LiaisonChange,
    OptOut,
    Staff,
)
from playbook.model import IntakeForm, Playbook

LAST_CONTACTS = 3
_CHOICE = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass
class Handover:
    """What a handover did."""

    previous: str
    liaison: str
    communities: list[str]
    briefing: bool = False  # a briefing email was queued
    introductions: int = 0  # messages queued to key figures
    not_introduced: list[str] = field(default_factory=list)  # contacts without consent/address

    def as_dict(self) -> dict[str, Any]:
        """The `--json` document."""
        return {"from": self.previous, "to": self.liaison, "communities": self.communities,
                "briefing_queued": self.briefing, "introductions_queued": self.introductions,
                "not_introduced": self.not_introduced}


def hand_over(session: Session, *, previous: str, liaison: str, communities: list[str],
              playbook: Playbook, now: datetime, actor: str = "cli") -> Handover:
    """Move communities (all of `previous`'s when none are named) to `liaison`, in the
    caller's transaction; InputError lists every problem and nothing changes."""
    rows = _check(session, previous, liaison, list(dict.fromkeys(communities)))
    new = session.get(Staff, liaison)
    assert new is not None
    report = Handover(previous, liaison, [r.id for r in rows])
    changes = []
    for row in rows:
        row.liaison_id, row.updated_at = liaison, now
        changes.append(LiaisonChange(community_id=row.id, liaison_id=liaison,
                                     previous_id=previous, at=now, source="handover",
                                     actor=actor))
        record(session, kind="peacetime.handover", at=now, community_id=row.id, actor=actor,
               previous=previous, liaison=liaison)
    session.add_all(changes)
    session.flush()
    # The messages are keyed by this handover (its first history row), not by the second it
    # ran in: two handovers within one second each brief and introduce, neither swallows the
    # other's messages as a duplicate.
    stamp = f"{now:%Y%m%dT%H%M%S}-{min(c.id or 0 for c in changes)}"
    drafts = _introductions(session, rows, new, playbook, stamp, report)
    old = session.get(Staff, previous)
    if new.email:
        step = f"peacetime:handover:{previous}:{stamp}"
        drafts.append(Draft(
            dedupe_key=dedupe_key(None, f"staff:{liaison}", step, "email"), incident_id=None,
            community_ids=report.communities, recipient_kind="staff", recipient_id=liaison,
            channel="email", address=new.email, locale=playbook.default_locale,
            subject=BRIEFING_SUBJECT.format(count=len(rows),
                                            previous=old.name if old else previous),
            body=briefing_body(liaison=new.name, previous=old.name if old else previous,
                               communities=briefing(session, rows, playbook.timezone),
                               municipality=playbook.name),
            step=step, template="peacetime-briefing"))
        report.briefing = True
    enqueue_all(session, drafts, now)
    append(session, action="staff.handover", object=f"staff:{previous}", at=now,
           details={"to": liaison, "communities": report.communities[:50],
                    "introductions": report.introductions})
    return report


def _check(session: Session, previous: str, liaison: str,
           communities: list[str]) -> list[Community]:
    problems = []
    if session.get(Staff, previous) is None:
        problems.append(f"{previous[:80]}: no such staff member / onbekende medewerker")
    new = session.get(Staff, liaison)
    if new is None or not new.active:
        problems.append(f"--to {liaison[:80]}: no such active staff member / onbekende "
                        "medewerker")
    if previous == liaison:
        problems.append("--to: the same staff member / dezelfde medewerker")
    rows: list[Community] = []
    if communities:
        for community_id in communities:
            row = session.get(Community, community_id, with_for_update=True)
            if row is None or not row.active:
                problems.append(f"--community {community_id[:80]}: no such active community")
            elif row.liaison_id != previous:
                problems.append(f"--community {community_id[:80]}: its liaison is not "
                                f"{previous[:80]} / niet van deze contactambtenaar")
            else:
                rows.append(row)
    else:
        rows = list(session.exec(select(Community).where(
            Community.liaison_id == previous, Community.active).order_by(Community.id)
            .with_for_update()))
        if not rows and not problems:
            problems.append(f"{previous[:80]}: is liaison of no active community / is van "
                            "geen enkele gemeenschap contactambtenaar")
    if problems:
        raise InputError(problems)
    return rows


def _introductions(session: Session, rows: list[Community], new: Staff, playbook: Playbook,
                   stamp: str, report: Handover) -> list[Draft]:
    """One introduction per address (a person may stand for several communities)."""
    names = {r.id: r.name for r in rows}
    contacts = session.exec(select(Contact).where(
        Contact.community_id.in_(list(names)), Contact.active)  # type: ignore[attr-defined]
        .order_by(col(Contact.community_id), col(Contact.priority),
                  col(Contact.id))).all()
    by_address: dict[tuple[str, str], list[Contact]] = defaultdict(list)
    for contact in contacts:
        recipient = contact_recipient(contact, contact.channel, contact.language) \
            if contact.consent is not None and contact.erased_at is None else None
        if recipient is None or session.get(OptOut, (recipient.address,
                                                     recipient.channel)) is not None:
            report.not_introduced.append(contact.id)
            continue
        by_address[(recipient.channel, recipient.address)].append(contact)
    reach = " / ".join(x for x in (new.phone, new.email) if x) or playbook.name
    step = f"peacetime:intro:{new.id}:{stamp}"
    drafts = []
    for (channel, address), people in by_address.items():
        first = people[0]
        language = intro_language(first.language, playbook.default_locale)
        subject, body = introduction(
            language=language, channel=channel, name=first.name, liaison=new.name, reach=reach,
            municipality=playbook.name,
            communities=sorted({names[p.community_id] for p in people}))
        drafts.append(Draft(
            dedupe_key=dedupe_key(None, f"{channel}:{address}", step, channel),
            incident_id=None, community_ids=sorted({p.community_id for p in people}),
            recipient_kind="contact", recipient_id=first.id, channel=channel, address=address,
            locale=language, subject=subject, body=body, step=step,
            template="peacetime-introduction"))
    report.introductions = len(drafts)
    return drafts


def briefing(session: Session, rows: list[Community], zone: str) -> list[dict[str, Any]]:
    """Per community: contacts, last contacts, open agreements, open needs of past incidents."""
    conn = session.connection()
    ids = [r.id for r in rows]
    agreements = open_agreements(conn, ids)
    needs = _open_needs(session, ids)
    out = []
    for row in rows:
        contacts = session.exec(select(Contact).where(
            Contact.community_id == row.id, Contact.active, Contact.erased_at.is_(None))  # type: ignore[union-attr]
            .order_by(col(Contact.priority), col(Contact.id))).all()
        last = list_contacts(conn, community=row.id)[:LAST_CONTACTS]
        out.append({
            "id": row.id, "name": row.name,
            "contacts": [{"id": c.id, "name": c.name, "role": c.role, "language": c.language,
                          "consent": c.consent is not None and c.withdrawn_at is None}
                         for c in contacts],
            "last_contacts": [{"at_local": local_text(e.at, zone), "kind": e.kind, "by": e.by}
                              for e in last],
            "agreements": agreements.get(row.id, []),
            "open_needs": needs.get(row.id, []),
        })
    return out


def _open_needs(session: Session, communities: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The needs a community stated in past incidents' intake answers that are still open (the
    chosen options of choice questions in the incident's frozen form, never free text; an
    answer replaced by a later one left out; a need whose task, added by the answer, was
    done there is met, as on the board), oldest first."""
    a = IntakeAnswer.__table__  # type: ignore[attr-defined]
    t = IncidentTask.__table__  # type: ignore[attr-defined]
    done = {tuple(row) for row in session.connection().execute(
        sa.select(t.c.incident_id, t.c.community_id, t.c.task_id).where(
            t.c.community_id.in_(communities), t.c.done_at.is_not(None)))}
    query = (sa.select(a.c.incident_id, a.c.community_id, a.c.form_id, a.c.answers)
             .where(a.c.replaced_at.is_(None), a.c.community_id.in_(communities))
             .order_by(a.c.id))
    forms: dict[int, dict[str, IntakeForm] | None] = {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for incident_id, community_id, form_id, answers in session.connection().execute(query):
        if incident_id not in forms:
            forms[incident_id] = _forms_of(session, incident_id)
        form = (forms[incident_id] or {}).get(form_id)
        tasks = form.option_tasks if form else {}
        for question, choice in _choices(form, answers or {}):
            task = tasks.get((question, choice))
            if task is None or (incident_id, community_id, task) not in done:
                out[community_id].append({"incident": incident_id,
                                          "need": f"{question}: {choice}"})
    return dict(out)


def _forms_of(session: Session, incident_id: int) -> dict[str, IntakeForm] | None:
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    try:
        return dict(playbook_of(incident).intake_forms)
    except Exception:  # a frozen playbook that no longer loads: fall back to plain ids
        return None


def _choices(form: IntakeForm | None, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(question, option) pairs chosen; without the form, values that look like option ids."""
    questions = {q.id: q for q in form.questions} if form is not None else {}
    out = []
    for question, value in sorted(answers.items()):
        q = questions.get(question)
        if form is not None and (q is None or q.type not in ("choice", "multi")):
            continue
        allowed = {o.id for o in q.options} if q is not None else None
        for choice in value if isinstance(value, list) else [value]:
            if isinstance(choice, str) and _CHOICE.match(choice) and (
                    allowed is None or choice in allowed):
                out.append((question, choice))
    return out
