"""What comes back: delivery statuses, replies (acknowledgements, intake digits, STOP/START).

Every provider event is applied once (a receipt row under a primary key) and a status never
moves a message backwards.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.audit.events import record
from engine.audit.log import append
from engine.inbound.needs import set_in_motion
from engine.incidents.flows import acknowledge, complete_intake
from engine.outreach.fallback import FallbackHook
from engine.playbooks.frozen import playbook_of
from engine.privacy.consent import start_from, stop_from
from engine.privacy.texts import keep_reply
from engine.store.models import (
    Incident,
    IncidentCommunity,
    IntakeAnswer,
    Message,
    OptOut,
    ProviderReceipt,
)
from engine.store.states import CommunityStatus, IncidentStatus, MessageState, is_final, move
from notifiers.base import DeliveryState, InboundText, StatusEvent

ACK_WORDS = frozenset({"ok", "oke", "oké", "okay", "ja", "yes", "tamam", "evet", "نعم", "tak"})
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke",
                        "optout"})
START_WORDS = frozenset({"start", "unstop", "yes-start"})


def first_receipt(session: Session, key: str, now: datetime) -> bool:
    """True the first time a provider event key is seen; later copies are no-ops."""
    try:
        with session.begin_nested():
            session.add(ProviderReceipt(key=key[:300], received_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def apply_status(*, session: Session, event: StatusEvent, now: datetime,
                 fallback: FallbackHook, reference: str | None = None) -> str:
    """Apply one delivery status callback; returns what happened, for the log.

    `reference` is our message id that the channel put into the callback URL: it matches a
    callback to a message whose send ended ambiguous, and so resolves that ambiguity.
    """
    if not first_receipt(session, f"status:{event.provider_id}:{event.status}", now):
        return "duplicate"
    m = session.exec(select(Message).where(Message.provider_id == event.provider_id)
                     .with_for_update()).first()
    if m is None and reference and reference.startswith("m") and reference[1:].isdigit():
        m = session.exec(select(Message).where(Message.id == int(reference[1:]),
                                               col(Message.provider_id).is_(None))
                         .with_for_update()).first()
        if m is not None:
            m.provider_id = event.provider_id
            if m.state in (MessageState.AMBIGUOUS, MessageState.SENDING):
                record(session, kind="message.reconciled", at=now, incident_id=m.incident_id,
                       actor="provider", message=m.id, channel=m.channel)
                move(m, MessageState.ACCEPTED)
                m.accepted_at = m.accepted_at or now
    if m is None:
        return "unknown_message"
    target = {DeliveryState.DELIVERED: MessageState.DELIVERED,
              DeliveryState.FAILED: MessageState.FAILED_PERM}.get(event.state)
    if is_final(m.state):
        return "no_change"  # a late or repeated status never moves a message back
    m.provider_status = event.status
    if target is None:
        return "progress"
    move(m, target)
    m.updated_at = now
    if target == MessageState.DELIVERED:
        m.delivered_at = now
    else:
        m.detail = f"provider status {event.status}" + (
            f" code {event.error_code}" if event.error_code else "")
    record(session, kind=f"message.{target}", at=now, incident_id=m.incident_id,
           actor="provider", message=m.id, channel=m.channel, status=event.status,
           error_code=event.error_code, recipient=f"{m.recipient_kind}:{m.recipient_id}")
    if target == MessageState.FAILED_PERM:
        fallback(session, m, now)
    return target


def normalise_reply(body: str) -> str:
    """Lower-case, NFKC, without surrounding spaces and punctuation."""
    text = unicodedata.normalize("NFKC", body).strip().casefold()
    return text.strip(" .!?,;:'\"()[]{}-_—–؟،")


def apply_inbound_text(*, session: Session, text: InboundText, now: datetime) -> str:
    """Apply one inbound SMS: STOP/START, acknowledgement, intake digits; once per provider id."""
    if not first_receipt(session, f"inbound:{text.provider_id}", now):
        return "duplicate"
    word = normalise_reply(text.body)
    if word in STOP_WORDS:
        if session.get(OptOut, (text.sender, "sms")) is None:
            session.add(OptOut(address=text.sender, channel="sms", created_at=now))
        record(session, kind="optout.stop", at=now, actor="sms", channel="sms")
        stop_from(session, address=text.sender, now=now)
        return "stop"
    if word in START_WORDS:
        row = session.get(OptOut, (text.sender, "sms"))
        if row is not None:
            session.delete(row)
        record(session, kind="optout.start", at=now, actor="sms", channel="sms")
        start_from(session, address=text.sender, now=now)
        return "start"
    targets = _recent_targets(session, text.sender)
    if not targets:
        record(session, kind="inbound.unmatched", at=now, actor="sms")
        return "unmatched"
    if word in ACK_WORDS:
        for incident_id, (by, communities) in targets.items():
            acknowledge(session, incident_id=incident_id, community_ids=communities, by=by,
                        now=now, via="sms")
        return "ack"
    if _apply_intake_digits(session, targets, text.body, now):
        return "intake"
    for incident_id, (by, communities) in targets.items():
        record(session, kind="inbound.reply", at=now, incident_id=incident_id, actor=by,
               communities=communities, reply_id=keep_reply(
                   session, text=text.body, sender=by, at=now, incident_id=incident_id))
    return "reply"


def _recent_targets(session: Session, sender: str) -> dict[int, tuple[str, list[str]]]:
    """Open incidents that messaged this number: who the sender is there, and which of the
    communities named in those messages are still open."""
    rows = session.exec(
        select(Message).join(Incident, col(Incident.id) == col(Message.incident_id))
        .where(Message.address == sender, Message.channel == "sms",
               Incident.status == IncidentStatus.OPEN,
               col(Message.state).in_((MessageState.ACCEPTED, MessageState.DELIVERED,
                                       MessageState.SENDING, MessageState.AMBIGUOUS)))
        .order_by(col(Message.id))
    )
    found: dict[int, tuple[str, list[str]]] = {}
    for m in rows:
        assert m.incident_id is not None  # joined to its incident
        _, communities = found.setdefault(
            m.incident_id, (f"{m.recipient_kind}:{m.recipient_id}", []))
        for c in m.community_ids:
            if c not in communities:
                communities.append(c)
    return {
        i: (by, [c for c in cs if _is_open(session, i, c)]) for i, (by, cs) in found.items()
        if any(_is_open(session, i, c) for c in cs) or by.startswith("contact:")
    }


def _is_open(session: Session, incident_id: int, community_id: str) -> bool:
    community_row = session.get(IncidentCommunity, (incident_id, community_id))
    return community_row is not None and community_row.status == CommunityStatus.OPEN


def _apply_intake_digits(session: Session, targets: dict[int, tuple[str, list[str]]],
                         body: str, now: datetime) -> bool:
    from playbook.sms import parse_sms_answer

    applied = False
    for incident_id, (by, communities) in targets.items():
        if not by.startswith("contact:"):
            continue
        incident = session.get(Incident, incident_id)
        assert incident is not None  # it messaged the sender
        playbook = playbook_of(incident)
        form_id = _form_of(incident, playbook, communities)
        if form_id is None:
            continue
        answers = parse_sms_answer(playbook.intake_forms[form_id], body)
        if not answers:
            continue
        record_intake(session, incident_id=incident_id, community_ids=communities or
                      _all_named(session, incident_id, by), contact_id=by.removeprefix(
                          "contact:"), form_id=form_id, answers=answers, source="sms", now=now)
        applied = True
    return applied


def _all_named(session: Session, incident_id: int, by: str) -> list[str]:
    rows = session.exec(select(Message.community_ids).where(
        Message.incident_id == incident_id,
        Message.recipient_id == by.removeprefix("contact:")))
    return sorted({c for ids in rows for c in ids})


def _form_of(incident: Incident, playbook: Any, communities: list[str]) -> str | None:
    from engine.outreach.compose import intake_form_for

    return intake_form_for(incident, playbook, communities or
                           [c["id"] for c in incident.checklist.get("communities", [])])


def record_intake(session: Session, *, incident_id: int, community_ids: list[str],
                  contact_id: str, form_id: str, answers: dict[str, Any], source: str,
                  now: datetime, link: str | None = None) -> bool:
    """Store an intake answer for each community; it also counts as an acknowledgement.

    With `link` (the token hash of the web link it came through) one answer per link and
    community is kept: a later one replaces it, the timeline records the change once
    (`intake.changed`), and an identical resubmission changes nothing. True when something
    was recorded.
    """
    changed = False
    for cid in community_ids:
        kept = None
        if link is not None:
            kept = session.exec(select(IntakeAnswer).where(
                IntakeAnswer.link == link, IntakeAnswer.community_id == cid)).first()
        if kept is not None and kept.answers == answers:
            continue
        kind, extra = "intake.answered", {}
        if kept is not None:  # the earlier answer stays, for the timeline, as replaced
            kind, extra = "intake.changed", {"previous_id": kept.id}
            kept.link, kept.replaced_at = None, now
            session.flush()
        row = IntakeAnswer(incident_id=incident_id, community_id=cid, contact_id=contact_id,
                           form_id=form_id, answers=answers, source=source, at=now, link=link)
        session.add(row)
        session.flush()
        changed = True
        record(session, kind=kind, at=now, incident_id=incident_id, community_id=cid,
               actor=f"contact:{contact_id}", form=form_id, source=source, answer_id=row.id,
               **extra)
    if changed:
        append(session, actor=f"contact:{contact_id}", action="intake.answer",
               object=f"incident:{incident_id}", at=now,
               details={"communities": community_ids, "form": form_id, "source": source})
        complete_intake(session, incident_id=incident_id, community_ids=community_ids,
                        by=f"contact:{contact_id}", now=now)
        incident = session.get(Incident, incident_id)
        if incident is not None:
            set_in_motion(session, incident_id=incident_id, playbook=playbook_of(incident),
                          form_id=form_id, community_ids=community_ids, answers=answers,
                          by=f"contact:{contact_id}", now=now)
        acknowledge(session, incident_id=incident_id, community_ids=community_ids,
                    by=f"contact:{contact_id}", now=now, via=source)
    return changed


def message_counts(session: Session, incident_id: int) -> dict[tuple[str, str], int]:
    """Messages of an incident by (channel, state)."""
    rows = session.exec(
        select(Message.channel, Message.state, sa.func.count())
        .where(Message.incident_id == incident_id).group_by(Message.channel, Message.state)
    )
    return {(c, s): n for c, s, n in rows.all()}
