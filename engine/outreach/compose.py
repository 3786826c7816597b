"""Who a step reaches and what they read: recipients resolved, messages rendered as drafts."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session, col, select

from engine.audit.events import record_many
from engine.links import tokens
from engine.links.tokens import Links
from engine.outreach.outbox import Draft, dedupe_key
from engine.store.models import Community, Contact, Incident, IntakeAnswer, Message, Staff


@dataclass(frozen=True)
class Recipient:
    """One person a message goes to, on one channel."""

    kind: str  # contact | staff
    id: str
    name: str
    channel: str
    address: str
    language: str | None = None
    priority: int = 1

    @property
    def key(self) -> str:
        """Identifies the person: a contact of several communities shares an address."""
        return f"{self.kind}:{self.channel}:{self.address}"


@dataclass
class Bundle:
    """What one recipient gets for one step: one message naming every community concerned."""

    recipient: Recipient
    template: str
    step: str
    community_ids: list[str] = field(default_factory=list)
    not_before: datetime | None = None


def address_for(channel: str, phone: str | None, email: str | None) -> str | None:
    """The address of a person on a channel, if they have one."""
    return phone if channel == "sms" else email


def other_channel(channel: str) -> str:
    """The fallback channel."""
    return "email" if channel == "sms" else "sms"


_INDEX: dict[int, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}


def checklist_entry(incident: Incident, community_id: str) -> dict[str, Any] | None:
    """A community's entry in the incident's frozen checklist, through an index built once
    per checklist (scanning it per message made a large incident quadratic)."""
    checklist = incident.checklist
    cached = _INDEX.get(id(checklist))
    if cached is None or cached[0] is not checklist:
        if len(_INDEX) > 64:
            _INDEX.clear()
        cached = (checklist, {e["id"]: e for e in checklist.get("communities", [])})
        _INDEX[id(checklist)] = cached
    return cached[1].get(community_id)


def checklist_contacts(incident: Incident, community_id: str) -> list[dict[str, Any]]:
    """The eligible contacts of a community as frozen in the incident's checklist."""
    entry = checklist_entry(incident, community_id)
    return list(entry.get("contacts", [])) if entry else []


def select_level(contacts: list[dict[str, Any]], notify: str) -> list[dict[str, Any]]:
    """primary = the lowest priority number; backup = the next level; all_contacts = all."""
    levels = sorted({c["priority"] for c in contacts})
    if notify == "all_contacts":
        return contacts
    index = {"primary": 0, "backup": 1}[notify]
    if index >= len(levels):
        return []
    return [c for c in contacts if c["priority"] == levels[index]]


def contact_recipient(row: Contact, channel: str, language: str | None) -> Recipient | None:
    """A contact on its frozen channel, or the other one when that address is gone; None when
    it has none or withdrew its consent."""
    for ch in (channel, other_channel(channel)):
        address = address_for(ch, row.phone, row.email)
        if address and row.active and getattr(row, "withdrawn_at", None) is None:
            return Recipient("contact", row.id, row.name, ch, address, language, row.priority)
    return None


def staff_recipient(row: Staff | Any) -> Recipient | None:
    """A staff member (a row or plain staff data) by SMS when they have a phone, else by email."""
    channel = "sms" if row.phone else "email"
    address = address_for(channel, row.phone, row.email)
    if not address or not getattr(row, "active", True):
        return None
    return Recipient("staff", row.id, row.name, channel, address, None)


def incident_context(incident: Incident, playbook: Any) -> dict[str, Any]:
    """The `incident` of templates: as in expressions, plus title and label."""
    itype = playbook.incident_types.get(incident.type)
    label = itype.label.get(playbook.default_locale, incident.type) if itype else incident.type
    return {
        "type": incident.type, "title": incident.title, "label": label,
        "severity": incident.severity, "area": incident.area, "lat": incident.lat,
        "lon": incident.lon, "fields": dict(incident.fields), "exercise": incident.exercise,
        "id": incident.id,
    }


def community_context(row: Community) -> dict[str, Any]:
    """The `community` of templates."""
    return {"id": row.id, "name": row.name, "kind": row.kind, "area": row.area}


def intake_form_for(incident: Incident, playbook: Any, community_ids: list[str]) -> str | None:
    """The intake form of the first of these communities that has an intake task."""
    for community_id in community_ids:
        entry = checklist_entry(incident, community_id)
        for task in entry.get("tasks", []) if entry else []:
            spec = playbook.tasks.get(task["id"])
            if spec is not None and spec.kind == "intake" and spec.intake_form:
                return spec.intake_form
    return None


def stated_needs(session: Session, incident: Incident, playbook: Any,
                 community_ids: list[str]) -> dict[str, dict[str, Any]]:
    """For an intake alert (PLAYBOOK.md: `answers`): the latest answer of the first of these
    communities that answered, per question id: the chosen option ids (`options`), their
    labels (`texts`), those joined or the free text typed (`text`), and the question's
    `label`; in the playbook's language."""
    from playbook.answers import answers_in_words

    locale = playbook.default_locale
    for cid in community_ids:
        row = session.exec(select(IntakeAnswer).where(
            IntakeAnswer.incident_id == incident.id, IntakeAnswer.community_id == cid,
            col(IntakeAnswer.replaced_at).is_(None)).order_by(col(IntakeAnswer.at).desc(),
                                                              col(IntakeAnswer.id).desc())
        ).first()
        if row is None:
            continue
        form = playbook.intake_forms.get(row.form_id)
        out: dict[str, dict[str, Any]] = {}
        for entry in answers_in_words(form, row.answers, (locale,)):
            texts = [_option_label(form, entry["question"], o, locale)
                     for o in entry["options"]]
            out[entry["question"]] = {
                "question": entry["question"],
                "label": entry["label"].get(locale, entry["question"]),
                "options": entry["options"], "texts": texts,
                "text": entry["text"] if entry["text"] is not None
                else entry["words"].get(locale, ""),
            }
        return out
    return {}


def _option_label(form: Any, question_id: str, option_id: str, locale: str) -> str:
    question = next(q for q in form.questions if q.id == question_id)
    option = next(o for o in question.options if o.id == option_id)
    return str(option.label.get(locale) or option.label.get("en") or option_id)


def not_reached(session: Session, incident: Incident, community_ids: list[str],
                communities: dict[str, Community]) -> list[dict[str, Any]]:
    """For staff messages: each community, with the contacts tried, how, and their numbers."""
    tried: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = session.exec(
        select(Message).where(Message.incident_id == incident.id,
                              Message.recipient_kind == "contact")
        .order_by(Message.id)
    )
    seen: set[tuple[str, str, str]] = set()
    for m in reversed(list(rows)):  # the latest attempt per person and channel tells most
        for cid in m.community_ids:
            if cid in community_ids and (cid, m.recipient_id, m.channel) not in seen:
                seen.add((cid, m.recipient_id, m.channel))
                contact = session.get(Contact, m.recipient_id)
                tried[cid].insert(0, {
                    "name": contact.name if contact else m.recipient_id,
                    "channel": m.channel, "address": m.address, "state": m.state,
                    "phone": contact.phone if contact else None,
                    "email": contact.email if contact else None,
                })
    return [
        {"id": cid, "name": communities[cid].name if cid in communities else cid,
         "contacts": tried.get(cid, [])}
        for cid in community_ids
    ]


def compose(
    *,
    incident: Incident,
    playbook: Any,
    bundle: Bundle,
    communities: list[Community],
    links: Links,
    now: datetime,
    not_reached: list[dict[str, Any]] | None = None,
    escalation_note: str | None = None,
    answers: list[dict[str, Any]] | None = None,
) -> Draft:
    """Render one recipient's message for a step, with its own intake and ack links.

    `escalation_note` tells staff why a step reached them rather than whom the playbook named:
    `nobody_on_call` or `no_liaison`.
    """
    from playbook.render import choose_locale, render_message

    r = bundle.recipient
    # Staff read the municipality's language, whatever the community speaks.
    chain = [x for x in (r.language, *(communities[0].languages if communities else ()))
             if x] if r.kind == "contact" else []
    form = None
    if r.kind == "contact":
        form = intake_form_for(incident, playbook, bundle.community_ids)
    # The links open their pages in the language the message is written in.
    locale = choose_locale(playbook.templates[bundle.template], r.channel, chain,
                           playbook.default_locale)
    mint = partial(tokens.mint, secret=links.secret, incident_id=incident.id,
                   community_ids=bundle.community_ids, recipient_kind=r.kind, recipient_id=r.id,
                   locale=locale, now=now, valid_for=links.valid_for)
    token_rows = []
    intake_url = ""
    # The links are masked in the stored message; the channel gets the real ones
    # (engine.outreach.reveal).
    if form:
        masked_intake, row = mint(purpose="intake", form_id=form)
        token_rows.append(row)
        intake_url = f"{links.public_url.rstrip('/')}/i/{masked_intake}"
    masked_ack, row = mint(purpose="ack")
    token_rows.append(row)
    context: dict[str, Any] = {
        "incident": incident_context(incident, playbook),
        "community": community_context(communities[0]) if communities else {},
        "communities": [community_context(c) for c in communities],
        "municipality": playbook.name,
        "intake_url": intake_url,
        "ack_url": f"{links.public_url.rstrip('/')}/a/{masked_ack}",
    }
    if r.kind == "contact":
        context["contact"] = {"name": r.name, "language": r.language}
    if not_reached is not None:
        context["not_reached"] = not_reached
        context["escalation_note"] = escalation_note
    if answers is not None:
        context["answers"] = answers
    rendered = render_message(
        playbook, bundle.template, r.channel, language_chain=chain, context=context
    )
    return Draft(
        dedupe_key=dedupe_key(incident.id, r.key, bundle.step, r.channel),
        incident_id=incident.id, community_ids=list(bundle.community_ids),
        recipient_kind=r.kind, recipient_id=r.id, channel=r.channel, address=r.address,
        locale=rendered.locale, body=rendered.body, subject=rendered.subject,
        html=rendered.html, step=bundle.step, template=bundle.template,
        not_before=bundle.not_before, tokens=tuple(token_rows),
    )


def unrenderable(session: Session, *, incident_id: int, bundle: Bundle, error: Exception,
                 now: datetime) -> None:
    """Record a message whose template failed on this data (a budget, a bug): the step goes
    on without it, the auditor raises the community if nothing else reaches it."""
    logging.getLogger(__name__).error("template %s could not be rendered for step %s: %s",
                                      bundle.template, bundle.step, type(error).__name__)
    record_many(session.connection(), [{
        "at": now, "kind": "message.unrenderable", "incident_id": incident_id,
        "community_id": None, "actor": "system",
        "data": {"template": bundle.template, "step": bundle.step,
                 "recipient": f"{bundle.recipient.kind}:{bundle.recipient.id}",
                 "communities": list(bundle.community_ids),
                 "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                 if str(error) else type(error).__name__},
    }])
