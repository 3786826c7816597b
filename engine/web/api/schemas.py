"""The shapes of the API's answers (what the OpenAPI document promises and the fuzz tests
hold the answers to)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int
    message: str


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid API token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    404: {"model": ErrorBody, "description": "No such thing"},
    422: {"model": ErrorBody, "description": "The request was refused (what and where)"},
    429: {"model": ErrorBody, "description": "Too many requests"},
}


class IncidentSummary(BaseModel):
    """One incident in the list."""

    id: int
    type: str
    title: str
    severity: int
    status: str
    exercise: bool
    declared_at: str
    closed_at: str | None
    communities: int
    reached: int
    taken_over: int = 0


class IncidentList(BaseModel):
    """Incidents, newest first."""

    incidents: list[IncidentSummary]


class IncidentHead(BaseModel):
    """The incident itself."""

    id: int
    type: str
    title: str
    severity: int
    area: str | None
    status: str
    exercise: bool
    declared_at: str
    closed_at: str | None
    playbook: dict[str, Any] | None
    timezone: str | None = None


class Summary(BaseModel):
    """How far the outreach is."""

    communities: int
    reached: int
    taken_over: int = 0
    open: int
    tasks_open: int = 0
    tasks_overdue: int = 0
    messages: dict[str, int]
    unknown: int


class ChannelHealth(BaseModel):
    """Sends and failures of one channel."""

    accepted: int
    failed: int
    failing: bool


class TaskState(BaseModel):
    """One task: title per language, owner, deadline, and whether it is done or overdue."""

    id: str
    kind: str
    title: dict[str, str] = {}
    owner: str | None = None
    owner_staff: dict[str, str] | None = None
    due: str
    done_at: str | None
    done_by: str | None
    state: str = "open"
    note: str | None = None


class MessageState(BaseModel):
    """One message to a community's contact (no address: only the recipient's id)."""

    id: int
    to: str
    channel: str
    step: str
    state: str
    detail: str | None


class NextStep(BaseModel):
    """The next escalation step or follow-up."""

    due: str
    notify: str


class IntakeState(BaseModel):
    """One answer to the needs form."""

    at: str
    by: str
    answers: dict[str, Any]
    source: str
    in_words: list[dict[str, Any]] = []


class CommunityReach(BaseModel):
    """One community of an incident: reach status, messages, tasks, answers."""

    id: str
    name: str
    role: str
    escalation: str | None
    status: str
    reach: str = "open"
    acknowledged_at: str | None
    acknowledged_by: str | None
    taken_over_by: str | None
    messages: list[MessageState]
    tasks: list[TaskState]
    next_step: NextStep | None
    intake: list[IntakeState]


class IncidentDetail(BaseModel):
    """One incident as `verbinder incident show --json` gives it."""

    incident: IncidentHead
    summary: Summary
    channels: dict[str, ChannelHealth]
    incident_tasks: list[TaskState]
    communities: list[CommunityReach]
    unmatched_replies: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]]


class TokenState(BaseModel):
    """An API token (never the token itself)."""

    id: int
    name: str
    role: str
    created_by: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


class TokenList(BaseModel):
    """Every API token."""

    tokens: list[TokenState]


class Me(BaseModel):
    """Who the token is."""

    kind: str
    id: int
    role: str
