"""Preview: the checklist an incident would get now, changing nothing, and the SMS segments
of its first messages. Re-exported by engine.incidents.service (the verbs of incidents).

Kept apart from the flows, which need the ORM models, the audit log and the outreach: a
preview reads the registry through the driver and loads none of them (a tenth of a second
more of imports in `verbinder incident preview`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.registry.snapshot import load_snapshot
from engine.store.db import reading
from playbook.builder import Checklist, CommunityItem, build_checklist
from playbook.errors import IncidentInputError
from playbook.render import language_chain, message_context, render_message

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from playbook.model import IncidentInput, Playbook

# A link of realistic length, so that previewed SMS segment counts match real messages.
SAMPLE_TOKEN = "x" * 43


def preview(*, engine: Engine, playbook: Playbook, incident: IncidentInput) -> Checklist:
    """The checklist the incident would get now over the active registry, changing nothing.
    A `community` or `tag` field the registry does not hold is refused (InputError)."""
    with reading(engine).connect() as conn:
        snapshot = load_snapshot(conn)
    with refused_input():
        return build_checklist(playbook, incident, snapshot.communities, snapshot.contacts,
                               snapshot.opted_out)


@contextmanager
def refused_input() -> Iterator[None]:
    """The builder's refusal of an incident's input (a field the registry does not hold, ...)
    as InputError: exit 2 on the command line, nothing changed."""
    try:
        yield
    except IncidentInputError as exc:
        raise InputError(list(exc.problems)) from None


def first_message_segments(*, playbook: Playbook, checklist: Checklist, item: CommunityItem,
                           public_url: str, smart_encoding: bool = False) -> dict[str, int]:
    """SMS segments of the community's first escalation message, per contact language."""
    policy = playbook.policies.get(item.escalation or "")
    if policy is None or not policy.steps:
        return {}
    template = min(policy.steps, key=lambda s: s.after.nominal).template
    has_intake = any(t.task.kind == "intake" for t in item.tasks)
    intake_url = f"{public_url.rstrip('/')}/i/{SAMPLE_TOKEN}" if has_intake else ""
    segments: dict[str, int] = {}
    for eligible in item.contacts:
        chain = language_chain(eligible.language, item.community.languages,
                               playbook.default_locale)
        context = message_context(playbook, checklist.incident, community=item.community,
                                  contact=eligible.contact, intake_url=intake_url)
        message = render_message(playbook, template, "sms", language_chain=chain,
                                 context=context, smart_encoding=smart_encoding)
        if message.sms is not None and message.locale not in segments:
            segments[message.locale] = message.sms.segments
    return segments
