"""The shapes of the API's answers (what the OpenAPI document promises and the fuzz tests
hold the answers to)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int
    message: str


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (not JSON)"},
    401: {"model": ErrorBody, "description": "No valid API token"},
    403: {"model": ErrorBody, "description": "The token's role may not do this"},
    404: {"model": ErrorBody, "description": "No such thing"},
    413: {"model": ErrorBody, "description": "The request body is too large"},
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


# --- actions ------------------------------------------------------------------------------------

IdText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class IncidentRequest(BaseModel):
    """An incident to preview or declare: the incident OPTIONS of `verbinder incident
    declare` (CLI.md) as JSON. The playbook is the server's configured one."""

    model_config = ConfigDict(extra="forbid")

    type: IdText = Field(description="An incident type id of the playbook")
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    severity: Annotated[int, Field(ge=1, le=5)] | None = None
    area: Annotated[str, StringConstraints(max_length=100)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    fields: Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=50)],
                           Annotated[str, StringConstraints(max_length=500)]],
                      Field(max_length=20)] = Field(default_factory=dict)
    exercise: bool = False


class PreviewCommunity(BaseModel):
    """A community the incident would reach (no contact details: how many, and how)."""

    id: str
    name: str
    role: str
    escalation: str | None
    contacts: int
    channels: list[str]
    tasks: list[str]


class Preview(BaseModel):
    """The checklist the incident would get now (nothing changed)."""

    type: str
    title: str
    severity: int
    exercise: bool
    communities: list[PreviewCommunity]
    incident_tasks: list[str]
    warnings: list[str]


class DeclaredIncident(BaseModel):
    """A declared incident: its id; outreach is started by the worker."""

    incident_id: int
    communities: int
    warnings: list[str]


class AckRequest(BaseModel):
    """Acknowledge one community on someone's behalf (as `verbinder incident ack`)."""

    model_config = ConfigDict(extra="forbid")

    community: IdText
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class TakeOverRequest(BaseModel):
    """A staff member takes one community over (recorded for them)."""

    model_config = ConfigDict(extra="forbid")

    community: IdText
    staff: IdText = Field(description="The staff member's id in the registry")


class Changed(BaseModel):
    """The communities that changed (already reached ones did not)."""

    changed: list[str]


class Closed(BaseModel):
    """Whether this call closed the incident (False: it was closed already)."""

    closed: bool


class BoardRow(BaseModel):
    """One community on the board."""

    id: str
    name: str
    role: str
    board_status: str
    acknowledged_at: str | None
    taken_over_by: str | None
    tried: list[dict[str, str]]
    next_step: NextStep | None


class Board(BaseModel):
    """The incident board: counts per status and role, and the communities."""

    incident: IncidentHead
    counts: dict[str, int]
    roles: dict[str, int]
    total: int
    communities: list[BoardRow]
