"""Peace time: the communities due for contact (a liaison their own, a coordinator
everyone's), logging a contact, adding and finishing agreements. The same verbs and rules as
the /peacetime pages (`may_keep_peacetime`: coordinators, and a community's own liaison;
a liaison's token the communities of the staff member it was made for, none without one)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exceptions import HTTPException
from sqlmodel import Session

from engine.accounts.roles import Role
from engine.accounts.rules import Principal, may_keep_peacetime
from engine.errors import InputError, NotFoundError
from engine.peacetime.service import (
    add_agreement,
    agreement_community,
    due_report,
    finish_agreement,
    log_contact,
)
from engine.registry.directory import liaisons_of
from engine.web.access import Area, Forbidden, WebContext, principal_of, web_of
from engine.web.api.models import (
    Agreement,
    AgreementRequest,
    ContactLogRequest,
    DueList,
    Finished,
    LoggedContact,
)
from engine.web.api.schemas import ERRORS, ErrorBody
from playbook.model import Playbook

log = logging.getLogger(__name__)
area = Area(api=True, responses=ERRORS)
KEEPERS = frozenset({Role.COORDINATOR, Role.LIAISON})
AgreementId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The agreement's id")]
NO_PLAYBOOK = {503: {"model": ErrorBody, "description": "The playbook cannot be loaded"}}


def _playbook(web: WebContext) -> Playbook:
    try:
        return web.ctx.load_playbook()
    except Exception as exc:  # a broken playbook is the operator's to fix: say so, calmly
        log.warning("api: the playbook could not be loaded (%s)", type(exc).__name__)
        raise HTTPException(503, "the playbook cannot be loaded (verbinder playbook check)"
                            ) from None


def _check_communities(session: Session, who: Principal, communities: list[str]) -> None:
    """Refuse (403) when any of these communities is not the principal's to keep."""
    liaisons = liaisons_of(session, communities)
    if any(c in liaisons and not may_keep_peacetime(who, liaisons[c]) for c in communities):
        raise Forbidden("community")


@area.get("/peacetime/due", allow=KEEPERS, response_model=DueList, responses=NO_PLAYBOOK)
async def due(request: Request) -> dict[str, Any]:
    """Communities overdue or due soon for a contact, per liaison (a liaison: their own)."""
    web, who = web_of(request), principal_of(request)
    mine = who.staff_id if who.role == Role.LIAISON else None
    if who.role == Role.LIAISON and mine is None:
        raise Forbidden("no staff member")
    playbook, now = _playbook(web), web.ctx.clock.now()
    report = await web.store.read(lambda s: due_report(session=s, playbook=playbook, now=now,
                                                       liaison=mine))
    return report.as_dict()


def _moment(text: str | None, now: datetime) -> datetime:
    if not text:
        return now
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"at: '{text[:40]}' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InputError(f"at: '{text[:40]}' has no offset (e.g. +01:00 or Z)")
    return moment


@area.post("/peacetime/contacts", allow=KEEPERS, response_model=LoggedContact,
           status_code=201)
async def log_contact_call(request: Request, body: ContactLogRequest) -> dict[str, Any]:
    """Log a visit, call, meeting or event with one or more communities."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    by = who.staff_id if who.role == Role.LIAISON else body.by or who.staff_id

    def work(session: Session) -> dict[str, Any]:
        _check_communities(session, who, body.communities)  # first: 403 tells nothing more
        if not by:
            raise InputError("by: name the staff member who made the contact")
        entry = log_contact(session=session, communities=body.communities, kind=body.kind,
                            by=by, persons=body.with_, at=_moment(body.at, now), now=now,
                            place=body.place, neutral_ground=body.neutral_ground,
                            note=body.note, actor=who.actor)
        return entry.as_dict()
    return await web.store.write(work)


@area.post("/peacetime/agreements", allow=KEEPERS, response_model=Agreement, status_code=201)
async def add_agreement_call(request: Request, body: AgreementRequest) -> dict[str, Any]:
    """Make an agreement with a community (a goal set together, with an optional due date)."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()

    def work(session: Session) -> dict[str, Any]:
        if body.community not in liaisons_of(session, [body.community]):
            raise NotFoundError(f"community {body.community!r}: not in the registry")
        _check_communities(session, who, [body.community])
        return add_agreement(session=session, community=body.community, text=body.text,
                             due=body.due, now=now, actor=who.actor)
    return await web.store.write(work)


@area.post("/peacetime/agreements/{agreement_id}/done", allow=KEEPERS,
           response_model=Finished)
async def finish_agreement_call(request: Request, agreement_id: AgreementId
                                ) -> dict[str, Any]:
    """Mark an agreement done."""
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()

    def work(session: Session) -> bool:
        community = agreement_community(session=session, agreement_id=agreement_id)
        if community is None:
            raise NotFoundError(f"agreement {agreement_id}: no such agreement")
        _check_communities(session, who, [community])
        return finish_agreement(session=session, agreement_id=agreement_id, now=now,
                                actor=who.actor)
    return {"changed": await web.store.write(work)}
