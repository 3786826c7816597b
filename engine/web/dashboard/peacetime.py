"""Peace time: who is due for contact (a liaison their own communities, a coordinator
everyone's), a form to log a contact, and adding or finishing a community's agreements.
Everything is written through engine.peacetime.service as the logged-in account."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from engine.accounts.audit import contacts_viewed
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
from engine.registry.directory import contacts_of, liaisons_of
from engine.registry.service import community_profile, list_staff, search_communities
from engine.web.access import Area, Forbidden, WebContext, principal_of, web_of
from engine.web.dashboard.render import render
from playbook.model import Playbook

log = logging.getLogger(__name__)
area = Area(prefix="/peacetime")
KEEPERS = frozenset({Role.COORDINATOR, Role.LIAISON})
KINDS = ("visit", "call", "meeting", "event")
FIELD_CHARS = 2100  # a note is at most 2,000; longer is refused by the service, not cut
IDS = 50  # communities or contacts in one form
ID_CHARS = 200
AGREEMENT_IDS = 2**31 - 1
DUE_SHOWN = 60  # per liaison, the most pressing first; `peacetime due` lists them all


def configured_playbook(web: WebContext) -> Playbook | None:
    """The configured playbook, or None when it cannot be loaded (the page says so)."""
    try:
        return web.ctx.load_playbook()
    except Exception as exc:  # a broken playbook must not take the registry down
        log.warning("dashboard: the playbook could not be loaded (%s)", type(exc).__name__)
        return None


def _ids(form: FormData | Any, name: str) -> list[str]:
    return [str(v)[:ID_CHARS] for v in form.getlist(name)[:IDS + 1] if str(v).strip()]


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, ""))[:FIELD_CHARS].replace("\r\n", "\n").strip()


def _check_communities(session: Session, who: Principal, communities: list[str]) -> None:
    """Refuse (403) when any of these communities is not the principal's to keep."""
    liaisons = liaisons_of(session, communities[:IDS])
    if any(c in liaisons and not may_keep_peacetime(who, liaisons[c]) for c in communities):
        raise Forbidden("community")


@area.get("", allow=KEEPERS)
async def due_page(request: Request) -> Response:
    """The communities due for contact: a liaison's own, or everyone's for a coordinator."""
    web, who = web_of(request), principal_of(request)
    playbook, now = configured_playbook(web), web.ctx.clock.now()
    mine = who.staff_id if who.role == Role.LIAISON else None
    if who.role == Role.LIAISON and mine is None:
        raise Forbidden("no staff member")
    report = None
    if playbook is not None:
        report = await web.store.read(lambda s: due_report(session=s, playbook=playbook,
                                                           now=now, liaison=mine))
    groups = [] if report is None else [
        {"liaison": lid or None, "name": report.names.get(lid), "communities": items}
        # one's own first, then by liaison
        for lid, items in sorted(report.liaisons.items(),
                                 key=lambda kv: (kv[0] != who.staff_id, kv[0]))]
    return render(request, "peacetime.html", report=report, groups=groups,
                  broken=playbook is None, shown=DUE_SHOWN)


def _log_form(session: Session, who: Principal, chosen: list[str], now: datetime
              ) -> dict[str, Any]:
    """What the form offers: the principal's communities (a coordinator: the chosen ones
    and the search), the contacts of the chosen ones (names: the reading is audited), and
    the staff a coordinator may log for."""
    _check_communities(session, who, chosen)
    offered: dict[str, dict[str, Any]] = {}
    if who.role == Role.LIAISON:
        mine = search_communities(session=session, liaison=who.staff_id, limit=200)
        offered = {c["id"]: c for c in mine["communities"]}
    for community_id in chosen:
        if community_id not in offered:
            found = community_profile(session=session, community_id=community_id)
            if found is not None and found["active"]:
                offered[community_id] = found
    people = []
    for community_id in [c for c in chosen if c in offered]:
        contacts = contacts_of(session, community_id)
        if contacts:
            contacts_viewed(session, actor=who.actor, community_id=community_id,
                            contact_ids=[c["id"] for c in contacts], at=now,
                            source="web:contact-log-form")
        people += [{"id": c["id"], "name": c["name"], "role": c["role"],
                    "community": offered[community_id]["name"]} for c in contacts]
    staff = list_staff(session=session) if who.role == Role.COORDINATOR else []
    return {"offered": list(offered.values()), "people": people, "staff": staff}


async def _show_log_form(request: Request, chosen: list[str], *, status: int = 200,
                         problems: list[str] | None = None,
                         values: dict[str, Any] | None = None) -> Response:
    web, who = web_of(request), principal_of(request)
    now = web.ctx.clock.now()
    found = await web.store.write(lambda s: _log_form(s, who, chosen, now))
    local_now = now.astimezone(web.zone).strftime("%Y-%m-%dT%H:%M")
    return render(request, "contact_log.html", status=status, chosen=set(chosen),
                  kinds=KINDS, problems=problems or [], values=values or {},
                  local_now=local_now, **found)


@area.get("/log", allow=KEEPERS)
async def log_form(request: Request) -> Response:
    """The form to log a contact, for the communities named in the query (`community=`)."""
    return await _show_log_form(request, _ids(request.query_params, "community"))


def local_moment(text: str, web: WebContext, now: datetime) -> datetime:
    """A `datetime-local` value (in the playbook's zone) as an aware time; empty is now."""
    if not text:
        return now
    try:
        moment = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise InputError([f"when: '{text[:40]}' is not a date and time / geen datum en tijd"]
                         ) from None
    return moment.replace(tzinfo=web.zone)


@area.post("/log", allow=KEEPERS)
async def log_contact_post(request: Request) -> Response:
    """Log a contact; then the (first) community's page, where it is listed."""
    web, who = web_of(request), principal_of(request)
    form = await request.form()
    communities, persons = _ids(form, "community"), _ids(form, "with")
    now = web.ctx.clock.now()
    by = who.staff_id if who.role == Role.LIAISON else (_text(form, "by")[:ID_CHARS]
                                                        or who.staff_id or "")
    values = {"kind": _text(form, "kind"), "when": _text(form, "when"),
              "place": _text(form, "place"), "note": _text(form, "note"),
              "neutral_ground": form.get("neutral_ground") == "on", "by": by,
              "with": set(persons)}
    try:
        at = local_moment(values["when"], web, now)

        def work(session: Session) -> Any:
            _check_communities(session, who, communities)
            return log_contact(session=session, communities=communities, kind=values["kind"],
                               by=by, persons=persons, at=at, now=now,
                               place=values["place"] or None,
                               neutral_ground=values["neutral_ground"],
                               note=values["note"] or None, actor=who.actor)
        await web.store.write(work)
    except InputError as exc:
        return await _show_log_form(request, communities, status=422,
                                    problems=list(exc.problems), values=values)
    return RedirectResponse(f"/registry/{quote(communities[0], safe='')}?logged=1#log",
                            status_code=303)


@area.post("/agreements", allow=KEEPERS)
async def add_agreement_post(request: Request) -> Response:
    """Add an agreement with a community; back to its page."""
    web, who = web_of(request), principal_of(request)
    form = await request.form()
    community = _text(form, "community")[:ID_CHARS]
    text, due_text = _text(form, "text"), _text(form, "due")
    now = web.ctx.clock.now()

    def work(session: Session) -> Any:
        if not community or community not in liaisons_of(session, [community]):
            raise NotFoundError("no such community")
        _check_communities(session, who, [community])
        try:
            due = date.fromisoformat(due_text) if due_text else None
        except ValueError:
            raise InputError([f"due: '{due_text[:20]}' is not a date / geen datum"]) from None
        return add_agreement(session=session, community=community, text=text, due=due,
                             now=now, actor=who.actor)
    try:
        await web.store.write(work)
    except NotFoundError:
        raise
    except InputError as exc:
        return render(request, "refused.html", status=422, problems=list(exc.problems),
                      link=f"/registry/{quote(community, safe='')}")
    return RedirectResponse(f"/registry/{quote(community, safe='')}#agreements",
                            status_code=303)


@area.post("/agreements/{agreement_id}/done", allow=KEEPERS)
async def finish_agreement_post(request: Request, agreement_id: int) -> Response:
    """Mark an agreement done; back to its community's page."""
    web, who = web_of(request), principal_of(request)
    if not 0 < agreement_id <= AGREEMENT_IDS:
        raise NotFoundError(f"agreement {agreement_id}: no such agreement")
    now = web.ctx.clock.now()

    def work(session: Session) -> str:
        community = agreement_community(session=session, agreement_id=agreement_id)
        if community is None:
            raise NotFoundError(f"agreement {agreement_id}: no such agreement")
        _check_communities(session, who, [community])
        finish_agreement(session=session, agreement_id=agreement_id, now=now,
                         actor=who.actor)
        return community
    community = await web.store.write(work)
    return RedirectResponse(f"/registry/{quote(community, safe='')}#agreements",
                            status_code=303)
