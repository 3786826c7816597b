"""Request and answer models of the API's task, registry, peace-time, roster and download
endpoints (the incident actions' are in schemas.py). Requests forbid unknown fields and bound
every string and list: the fuzz tests hold the answers to these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from engine.errors import InputError

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(max_length=2000)]


class TickRequest(BaseModel):
    """A task to tick done (or open again): a community's task, or without `community` one of
    the incident's own tasks."""

    model_config = ConfigDict(extra="forbid")

    task: Id = Field(description="The task's id in the incident's checklist")
    community: Id | None = Field(None, description="The community; none for an incident task")
    note: Note | None = None


class Ticked(BaseModel):
    """Whether the call changed the task (False: it was in that state already)."""

    changed: bool


class CommunitySummary(BaseModel):
    """A community found by a search (no contact details)."""

    id: str
    name: str
    kind: str | None
    tags: list[str]
    area: str | None
    liaison: str | None
    liaison_name: str | None
    active: bool


class CommunitySearch(BaseModel):
    """Communities matching every word of the query; `total` counts all matches."""

    query: str
    total: int
    communities: list[CommunitySummary]


class CommunityProfile(CommunitySummary):
    """One community's data, without contact details: how many active contacts it has."""

    languages: list[str]
    attributes: dict[str, Any]
    lat: float | None
    lon: float | None
    liaison_active: bool
    contacts: int


class Contact(BaseModel):
    """A community's contact (reading these is recorded: who saw whom)."""

    id: str
    name: str | None
    role: str | None
    priority: int | None
    phone: str | None
    email: str | None
    channel: str | None
    language: str | None


class Contacts(BaseModel):
    """The active contacts of a community, in the order they are tried."""

    community: str
    contacts: list[Contact]


class DueCommunity(BaseModel):
    """A community due (or overdue, or never) for a contact."""

    model_config = ConfigDict(extra="allow")

    community: str
    name: str
    liaison: str | None
    every_days: int
    last_contact: str | None
    due_at: str | None
    status: str
    days: int | None
    agreements: list[dict[str, Any]] = []


class DueGroup(BaseModel):
    """One liaison's communities due for contact (`liaison` None: without a liaison)."""

    liaison: str | None
    name: str | None
    communities: list[DueCommunity]


class DueList(BaseModel):
    """Communities due for contact, per liaison (`peacetime due --json`)."""

    checked_at: str
    within_days: int
    configured: bool
    count: int
    liaisons: list[DueGroup]


class ContactLogRequest(BaseModel):
    """A contact to log (`contact log`): a visit, call, meeting or event."""

    model_config = ConfigDict(extra="forbid")

    communities: Annotated[list[Id], Field(min_length=1, max_length=50)]
    kind: Annotated[str, StringConstraints(max_length=20)] = Field(
        description="visit, call, meeting or event")
    by: Id | None = Field(None, description="The staff member who met them (a coordinator "
                                            "may name anyone; a liaison is themselves)")
    with_: Annotated[list[Id], Field(max_length=50)] = Field(
        default_factory=list, alias="with", description="Contact ids of those met")
    at: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="When (ISO 8601 with offset); now when left out")
    place: Annotated[str, StringConstraints(max_length=200)] | None = None
    neutral_ground: bool = False
    note: Note | None = None


class LoggedContact(BaseModel):
    """A logged contact (its note is not repeated)."""

    id: int
    at: str
    kind: str
    by: str
    communities: list[str]
    with_: list[str] = Field(alias="with")
    place: str | None
    neutral_ground: bool


class AgreementRequest(BaseModel):
    """An agreement to make with a community (`agreement add`)."""

    model_config = ConfigDict(extra="forbid")

    community: Id
    text: Annotated[str, StringConstraints(max_length=2000)]
    due: date | None = None


class Agreement(BaseModel):
    """An agreement with a community."""

    id: int
    community: str
    text: str
    due: str | None
    done: bool


class Finished(BaseModel):
    """Whether this call finished the agreement (False: it was done already)."""

    changed: bool


class PersonOnCall(BaseModel):
    """Someone on call now (the phone number for responders only)."""

    id: str
    name: str
    starts_at: str
    ends_at: str
    phone: str | None = None


class Shift(BaseModel):
    """A coming shift."""

    staff: str
    name: str
    starts_at: str
    ends_at: str


class Roster(BaseModel):
    """Who is on call now (nobody: the coordinators an on-call step goes to) and next."""

    at: str
    on_call: list[PersonOnCall]
    coordinators: list[dict[str, str]]
    next: list[Shift]


def known_query(*names: str) -> Callable[[Request], None]:
    """A route dependency refusing (422) query parameters the route does not document, so a
    misspelt `?qq=` is an error rather than silently ignored."""
    allowed = set(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise InputError(f"query: unknown parameter {unknown[0][:40]!r} "
                             f"(known: {', '.join(sorted(allowed)) or 'none'})")
    return check
