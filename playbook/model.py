"""The playbook model and the plain data the builder works on (frozen, no methods to abuse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
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

    # Written out rather than generated: a frozen dataclass sets each field through
    # object.__setattr__, which made reading a 50,000-community registry measurably slower.
    def __init__(self, id: str, name: str, kind: str, tags: tuple[str, ...] = (),
                 languages: tuple[str, ...] = (), area: str | None = None,
                 lat: float | None = None, lon: float | None = None,
                 liaison_id: str | None = None,
                 attributes: MappingProxyType[str, str] | dict[str, str] | None = None) -> None:
        self.__dict__.update(id=id, name=name, kind=kind, tags=tags, languages=languages,
                             area=area, lat=lat, lon=lon, liaison_id=liaison_id,
                             attributes={} if attributes is None else attributes)


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

    def __init__(self, id: str, community_id: str, name: str, priority: int = 1,
                 phone: str | None = None, email: str | None = None, channel: str = "sms",
                 language: str | None = None, consent: date | None = None,
                 active: bool = True) -> None:
        self.__dict__.update(id=id, community_id=community_id, name=name, priority=priority,
                             phone=phone, email=email, channel=channel, language=language,
                             consent=consent, active=active)


# --- the playbook ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """A field the coordinator supplies when declaring an incident of a type."""

    name: str
    type: str  # string | int | bool | enum | community | tag (the last two: registry-checked)
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
    when_expr: Any = field(default=None, compare=False, repr=False)  # compiled Expression
    select_expr: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Duration:
    """A playbook duration: whole calendar days and an elapsed rest (`P1DT2H`: 1 day, 2 hours).

    The days are counted on the calendar of the playbook's timezone (a day may be 23 or 25
    hours long), the rest as elapsed time (playbook.durations.due_after).
    """

    days: int = 0
    elapsed: timedelta = timedelta(0)

    @property
    def nominal(self) -> timedelta:
        """The length with days of 24 hours: to compare durations, not to add to a time."""
        return timedelta(days=self.days) + self.elapsed

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.days + other.days, self.elapsed + other.elapsed)

    def __mul__(self, times: int) -> Duration:
        return Duration(self.days * times, self.elapsed * times)

    def __bool__(self) -> bool:
        return bool(self.days or self.elapsed)


@dataclass(frozen=True)
class Task:
    """A task template of the playbook."""

    id: str
    title: dict[str, str]
    due: Duration
    kind: str
    owner: str | None = None
    template: str | None = None  # followup only
    intake_form: str | None = None  # intake only


@dataclass(frozen=True)
class Step:
    """One escalation step: who to notify `after` the start of a round, with which template."""

    after: Duration
    notify: str
    template: str


@dataclass(frozen=True)
class EscalationPolicy:
    """An escalation policy: steps, repeated `repeat` more rounds of `period`."""

    id: str
    steps: tuple[Step, ...]
    repeat: int = 0
    period: Duration | None = None


@dataclass(frozen=True)
class PlannedStep:
    """One step of a policy placed in time for one community."""

    round: int
    step_index: int
    due_at: datetime
    notify: str
    template: str


@dataclass(frozen=True)
class IntakeAlert:
    """Staff told at once when an intake option is chosen: who, and with which template."""

    notify: str  # liaison | oncall | coordinator
    template: str


@dataclass(frozen=True)
class IntakeOption:
    """A choice of an intake question, with its SMS reply digit and what choosing it sets in
    motion: an `action` task added to the community's checklist, and staff alerted."""

    id: str
    label: dict[str, str]
    sms: str | None = None
    task: str | None = None
    alert: IntakeAlert | None = None


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

    @cached_property
    def option_tasks(self) -> dict[tuple[str, str], str]:
        """(question id, option id) -> the task the option adds, for the options that add one."""
        return {(q.id, o.id): o.task for q in self.questions for o in q.options if o.task}


@dataclass(frozen=True)
class TemplateText:
    """One text of a message template in one locale, checked when the playbook loads."""

    source: str
    file: str  # where it was written (the YAML file or a template file), for messages
    line: int
    path: str | None = None  # relative path of the template file, None when inline
    uses: frozenset[str] = frozenset()  # names the text refers to (e.g. intake_url)
    html: bool = False  # rendered with HTML autoescape

    def template(self) -> Any:
        """The compiled jinja2 Template (compiled on first use, shared by equal texts)."""
        from playbook.expressions import compile_template

        return compile_template(self.source, self.html)


@dataclass(frozen=True)
class MessageTemplate:
    """A message template: texts per channel part, each keyed by locale."""

    id: str
    sms: dict[str, TemplateText] = field(default_factory=dict)
    subject: dict[str, TemplateText] = field(default_factory=dict)
    body: dict[str, TemplateText] = field(default_factory=dict)
    html: dict[str, TemplateText] = field(default_factory=dict)

    def locales(self, channel: str) -> tuple[str, ...]:
        """The locales this template has for a channel (sms, or email: its body)."""
        texts = self.sms if channel == "sms" else (self.body or self.html)
        return tuple(texts)

    @property
    def languages(self) -> frozenset[str]:
        """Every locale this template has a text in (SMS, email body or HTML body)."""
        return frozenset((*self.sms, *self.body, *self.html))


@dataclass(frozen=True)
class Cadence:
    """How often communities of a kind or with a tag are contacted in peace time, and which
    contact roles they should have (besides the board)."""

    every: Duration
    kind: str | None = None
    tag: str | None = None
    roles: tuple[str, ...] = ()

    def matches(self, kind: str, tags: list[str] | tuple[str, ...]) -> bool:
        """Whether a community of this kind and these tags falls under this cadence."""
        return (self.kind is not None and self.kind == kind) or (
            self.tag is not None and self.tag in tags)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class DigestSchedule:
    """When liaisons get their digest: weekly on a weekday, or daily, at a local hour."""

    every: str = "weekly"  # weekly | daily
    weekday: int = 0  # 0 = Monday (weekly only)
    hour: int = 8  # local hour in the playbook's timezone


@dataclass(frozen=True)
class Peacetime:
    """The optional `peacetime:` section: cadences (first match wins), the look-ahead of
    `peacetime due`, and the digest schedule."""

    cadences: tuple[Cadence, ...] = ()
    due_within: Duration = Duration(days=14)
    digest: DigestSchedule = DigestSchedule()

    def cadence_for(self, kind: str, tags: list[str] | tuple[str, ...]) -> Cadence | None:
        """The first cadence that matches a community, or None."""
        return next((c for c in self.cadences if c.matches(kind, tags)), None)


@dataclass(frozen=True)
class Playbook:
    """A loaded, validated playbook with its frozen files and digest."""

    id: str
    version: str
    name: str
    default_locale: str
    timezone: str
    incident_types: dict[str, IncidentType]
    rules: tuple[Rule, ...]
    tasks: dict[str, Task]
    policies: dict[str, EscalationPolicy]
    intake_forms: dict[str, IntakeForm]
    templates: dict[str, MessageTemplate]
    files: dict[str, str]  # relative path -> text: everything needed to load it again
    main: str  # the YAML file's key in `files`
    digest: str  # "sha256:" + hex
    default_escalation: str | None = None
    peacetime: Peacetime | None = None  # the optional `peacetime:` section

    def text(self, labels: dict[str, str], fallback: str = "") -> str:
        """A label in the default locale (else any, else the fallback)."""
        if self.default_locale in labels:
            return labels[self.default_locale]
        return next(iter(labels.values()), fallback)
