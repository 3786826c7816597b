"""The playbook model and the plain data the builder works on (frozen, no methods to abuse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

ROLES = ("affected", "at_risk", "bridging", "informed")  # highest precedence first
NOTIFY_TARGETS = ("primary", "backup", "all_contacts", "liaison", "oncall", "coordinator")
STAFF_TARGETS = ("liaison", "oncall", "coordinator")
TASK_KINDS = ("outreach", "intake", "followup", "action")
TASK_OWNERS = ("liaison", "coordinator", "oncall")
CHANNELS = ("sms", "email")


# --- what the engine hands the builder ------------------------------------------------------


@dataclass(frozen=True)
class IncidentInput:
    """A declared (or previewed) incident as the coordinator gave it."""

    type: str
    declared_at: datetime  # aware, UTC
    title: str | None = None
    severity: int | None = None  # None: the type's default_severity
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    fields: MappingProxyType[str, Any] | dict[str, Any] = field(default_factory=dict)
    exercise: bool = False


@dataclass(frozen=True)
class CommunityData:
    """One community of the registry, as plain data."""

    id: str
    name: str
    kind: str
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    liaison_id: str | None = None
    attributes: MappingProxyType[str, str] | dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactData:
    """One contact person of the registry, as plain data."""

    id: str
    community_id: str
    name: str
    priority: int = 1
    phone: str | None = None
    email: str | None = None
    channel: str = "sms"
    language: str | None = None
    consent: date | None = None
    active: bool = True


# --- the playbook ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """A field the coordinator supplies when declaring an incident of a type."""

    name: str
    type: str  # string | int | bool | enum
    required: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentType:
    """An incident type: label, default severity and its fields."""

    id: str
    label: dict[str, str]
    default_severity: int = 3
    fields: dict[str, FieldSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A playbook rule; `when` and `select` are the expression sources."""

    id: str
    when: str | None
    select: str | None
    role: str | None
    tasks: tuple[str, ...]
    escalation: str | None
    line: int = 0


@dataclass(frozen=True)
class Task:
    """A task template of the playbook."""

    id: str
    title: dict[str, str]
    due: timedelta
    kind: str
    owner: str | None = None
    template: str | None = None  # followup only
    intake_form: str | None = None  # intake only


@dataclass(frozen=True)
class Step:
    """One escalation step: who to notify `after` the start of a round, with which template."""

    after: timedelta
    notify: str
    template: str


@dataclass(frozen=True)
class EscalationPolicy:
    """An escalation policy: steps, repeated `repeat` more rounds of `period`."""

    id: str
    steps: tuple[Step, ...]
    repeat: int = 0
    period: timedelta | None = None


@dataclass(frozen=True)
class PlannedStep:
    """One step of a policy placed in time for one community."""

    round: int
    step_index: int
    due_at: datetime
    notify: str
    template: str


@dataclass(frozen=True)
class IntakeOption:
    """A choice of an intake question, with its SMS reply digit."""

    id: str
    label: dict[str, str]
    sms: str | None = None


@dataclass(frozen=True)
class IntakeQuestion:
    """One question of an intake form."""

    id: str
    type: str  # choice | multi | text | bool
    label: dict[str, str]
    options: tuple[IntakeOption, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class IntakeForm:
    """A needs-intake form."""

    id: str
    title: dict[str, str]
    questions: tuple[IntakeQuestion, ...]
