"""SQLModel tables. Every change of state also becomes an `Event` row (the timeline)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from engine.store.states import (
    CommunityStatus,
    IncidentStatus,
    MessageState,
    TimerState,
    values_of,
)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware UTC datetime."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StateType(TypeDecorator):
    """A state column: stored as its text, read back as its enum member; any other text is
    refused before it reaches the database (which refuses it too, by a CHECK constraint)."""

    impl = sa.String()
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        """The text of a known state."""
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> StrEnum | None:
        """The enum member."""
        return None if value is None else self.enum(value)


def _state_column(enum: type[StrEnum], default: StrEnum, index: bool = False) -> Any:
    return Field(default=default,
                 sa_column=sa.Column(StateType(enum), nullable=False, index=index))


def _state_check(column: str, enum: type[StrEnum], table: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values_of(enum))
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


def _utc_column(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json_column(default: Any) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(sa.JSON, nullable=False))


# --- registry -------------------------------------------------------------------------------


class Community(SQLModel, table=True):
    """A community on the social map: a place of worship, organisation or neighbourhood."""

    id: str = Field(primary_key=True, max_length=200)
    name: str
    kind: str
    tags: list[str] = _json_column(list)
    languages: list[str] = _json_column(list)
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    liaison_id: str | None = Field(default=None, index=True)
    attributes: dict[str, str] = _json_column(dict)
    active: bool = True
    updated_at: datetime | None = _utc_column()


class Contact(SQLModel, table=True):
    """A key figure of a community whom the municipality may contact."""

    id: str = Field(primary_key=True, max_length=200)
    community_id: str = Field(index=True)
    name: str
    role: str | None = None
    priority: int = 1
    phone: str | None = None
    email: str | None = None
    channel: str = "sms"
    language: str | None = None
    consent: date | None = None
    active: bool = True
    updated_at: datetime | None = _utc_column()
    # Consent withdrawn (STOP, or `registry withdraw`): left out of every later checklist and
    # step. Not an import column, so a re-import keeps it (engine/privacy/consent.py).
    withdrawn_at: datetime | None = _utc_column()
    withdrawn_by: str | None = Field(default=None, max_length=200)  # "sms" or who recorded it
    erased_at: datetime | None = _utc_column()  # purge erased name, role, phone and email


class Staff(SQLModel, table=True):
    """A municipal staff member: coordinator, liaison and/or on call."""

    id: str = Field(primary_key=True, max_length=200)
    name: str
    phone: str | None = None
    email: str | None = None
    roles: list[str] = _json_column(list)
    active: bool = True
    updated_at: datetime | None = _utc_column()
    erased_at: datetime | None = _utc_column()  # purge erased name, phone and email


class Shift(SQLModel, table=True):
    """One on-call shift of a staff member, in UTC."""

    id: int | None = Field(default=None, primary_key=True)
    staff_id: str = Field(index=True)
    starts_at: datetime = _utc_column(nullable=False, index=True)
    ends_at: datetime = _utc_column(nullable=False, index=True)
    source: str = "csv"


class OptOut(SQLModel, table=True):
    """An address that said STOP: no later send goes to it until it says START."""

    address: str = Field(primary_key=True)
    channel: str = Field(primary_key=True)
    created_at: datetime = _utc_column(nullable=False)


class Meta(SQLModel, table=True):
    """Small key/value facts of the installation (the generated development secret key)."""

    key: str = Field(primary_key=True)
    value: str


# --- incidents ------------------------------------------------------------------------------


class Incident(SQLModel, table=True):
    """A declared incident, with the playbook and checklist frozen at declaration."""

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(index=True)
    title: str
    severity: int = 3
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    fields: dict[str, Any] = _json_column(dict)
    exercise: bool = False
    status: IncidentStatus = _state_column(IncidentStatus, IncidentStatus.OPEN, index=True)
    declared_at: datetime = _utc_column(nullable=False, index=True)
    closed_at: datetime | None = _utc_column()
    playbook_id: str
    playbook_version: str
    playbook_digest: str
    playbook_files: dict[str, str] = _json_column(dict)  # relative path -> text, frozen
    checklist: dict[str, Any] = _json_column(dict)  # the checklist document, as previewed
    # Random, set with the checklist: names it for in-process caches. Purge renews it when it
    # erases the contacts' names from the checklist.
    checklist_key: str | None = None
    erased_at: datetime | None = _utc_column()  # purge erased its personal data

    __table_args__ = (_state_check("status", IncidentStatus, "incident"),)


class IncidentCommunity(SQLModel, table=True):
    """One matched community of an incident and whether it has been reached."""

    incident_id: int = Field(primary_key=True, foreign_key="incident.id")
    community_id: str = Field(primary_key=True)
    role: str
    escalation: str | None = None
    status: CommunityStatus = _state_column(CommunityStatus, CommunityStatus.OPEN)
    acknowledged_at: datetime | None = _utc_column()
    acknowledged_by: str | None = None  # "contact:ID" or "staff:ID"
    taken_over_by: str | None = None  # staff id who took over after an escalation

    __table_args__ = (_state_check("status", CommunityStatus, "incidentcommunity"),)


class IncidentTask(SQLModel, table=True):
    """One task of a checklist: of a community, or of the incident itself (community '')."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True, foreign_key="incident.id")
    community_id: str = ""  # "" for incident tasks
    task_id: str
    kind: str
    due_at: datetime = _utc_column(nullable=False)
    done_at: datetime | None = _utc_column()
    done_by: str | None = None

    __table_args__ = (sa.UniqueConstraint("incident_id", "community_id", "task_id"),)


# --- outreach -------------------------------------------------------------------------------


class Message(SQLModel, table=True):
    """One message in the outbox. `dedupe_key` makes deciding to send idempotent."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(sa_column=sa.Column(sa.String(400), nullable=False, unique=True))
    incident_id: int | None = Field(default=None, index=True)
    community_ids: list[str] = _json_column(list)
    recipient_kind: str  # contact | staff
    recipient_id: str
    channel: str  # sms | email
    address: str
    locale: str
    subject: str | None = None
    body: str
    html: str | None = None
    step: str  # e.g. "esc:r0:s1:backup", "followup:aftercare-d7", "audit"
    template: str | None = None
    state: MessageState = _state_column(MessageState, MessageState.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc_column(index=True)
    claimed_by: str | None = None
    claimed_at: datetime | None = _utc_column()
    provider_id: str | None = Field(default=None, index=True)
    provider_status: str | None = None
    detail: str | None = None  # never personal data
    created_at: datetime = _utc_column(nullable=False)
    updated_at: datetime = _utc_column(nullable=False)
    accepted_at: datetime | None = _utc_column()
    delivered_at: datetime | None = _utc_column()
    # When the send became ambiguous (the provider is asked about it from then on), and how
    # often it was sent once more because the provider certainly held none (at most once).
    ambiguous_at: datetime | None = _utc_column()
    resends: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    erased_at: datetime | None = _utc_column()  # purge erased address, subject and bodies

    __table_args__ = (_state_check("state", MessageState, "message"),)


class ProviderReceipt(SQLModel, table=True):
    """Each inbound provider event (status callback, inbound SMS) is applied once."""

    key: str = Field(primary_key=True, max_length=300)
    received_at: datetime = _utc_column(nullable=False)


class IntakeToken(SQLModel, table=True):
    """An opaque link token for an intake form or an acknowledgement; only its hash is kept."""

    token_hash: str = Field(primary_key=True, max_length=64)
    purpose: str  # intake | ack
    incident_id: int = Field(index=True)
    community_ids: list[str] = _json_column(list)
    recipient_kind: str  # contact | staff
    recipient_id: str
    form_id: str | None = None
    locale: str
    expires_at: datetime = _utc_column(nullable=False)
    used_at: datetime | None = _utc_column()


class IntakeAnswer(SQLModel, table=True):
    """Answers to an intake form, from the web page or by SMS digits."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True)
    community_id: str
    contact_id: str
    form_id: str
    answers: dict[str, Any] = _json_column(dict)
    source: str  # web | sms
    at: datetime = _utc_column(nullable=False)
    # The token hash of the web link it came through (None for SMS): one answer per link and
    # community, a later one replacing it.
    link: str | None = Field(default=None, max_length=64)
    # A later answer through the same link replaced this one (its link is then NULL): the
    # timeline keeps both, `incident show` lists the current ones.
    replaced_at: datetime | None = _utc_column()
    erased_at: datetime | None = _utc_column()  # purge erased its free-text answers

    __table_args__ = (sa.Index("uq_intakeanswer_link", "link", "community_id", unique=True),)


class Reply(SQLModel, table=True):
    """The text of an SMS reply that was no keyword: personal data, kept out of the timeline
    (whose rows never change) so that purge can erase it; event `inbound.reply` names it."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, index=True)
    sender: str = Field(max_length=200)  # "contact:ID" or "staff:ID"
    text: str
    at: datetime = _utc_column(nullable=False)
    erased_at: datetime | None = _utc_column()


class Note(SQLModel, table=True):
    """A note a person wrote (acknowledgement, withdrawal): free text, kept out of the timeline
    so that purge can erase it; the events name it by id."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, index=True)
    subject: str | None = Field(default=None, max_length=200, index=True)  # "contact:ID"
    author: str = Field(max_length=200)
    text: str
    at: datetime = _utc_column(nullable=False)
    erased_at: datetime | None = _utc_column()


# --- peace time (engine/peacetime) ---------------------------------------------------------


class ContactLog(SQLModel, table=True):
    """A contact in peace time: a visit, call, meeting or event with one or more communities
    (a meeting may bring several together). Its free-text note lives in `note`
    (subject `contactlog:ID`), so that purge can erase it."""

    __tablename__ = "contactlog"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc_column(nullable=False, index=True)
    kind: str = Field(max_length=20)  # visit | call | meeting | event
    staff_id: str = Field(max_length=200, index=True)
    place: str | None = Field(default=None, max_length=200)
    neutral_ground: bool = False
    note_id: int | None = None
    created_at: datetime = _utc_column(nullable=False)
    created_by: str = Field(max_length=200)


class ContactLogCommunity(SQLModel, table=True):
    """A community a peace-time contact was with."""

    __tablename__ = "contactlogcommunity"

    log_id: int = Field(primary_key=True, foreign_key="contactlog.id")
    community_id: str = Field(primary_key=True, max_length=200, index=True)


class ContactLogPerson(SQLModel, table=True):
    """A key figure (registry contact) met at a peace-time contact."""

    __tablename__ = "contactlogperson"

    log_id: int = Field(primary_key=True, foreign_key="contactlog.id")
    contact_id: str = Field(primary_key=True, max_length=200, index=True)


class Agreement(SQLModel, table=True):
    """A goal set together with a community; open until marked done."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: str = Field(max_length=200, index=True)
    text: str = Field(max_length=500)
    due: date | None = None
    created_at: datetime = _utc_column(nullable=False)
    created_by: str = Field(max_length=200)
    done_at: datetime | None = _utc_column()
    done_by: str | None = Field(default=None, max_length=200)


class LiaisonChange(SQLModel, table=True):
    """A community's liaison changed (an import, a handover): its liaison history."""

    __tablename__ = "liaisonchange"

    id: int | None = Field(default=None, primary_key=True)
    community_id: str = Field(max_length=200, index=True)
    liaison_id: str | None = Field(default=None, max_length=200)
    previous_id: str | None = Field(default=None, max_length=200)
    at: datetime = _utc_column(nullable=False)
    source: str = Field(max_length=20)  # import | handover
    actor: str = Field(max_length=200)


class DigestClaim(SQLModel, table=True):
    """A liaison's digest of one period, claimed by the worker that sends it: the primary key
    makes it once per period however many workers look."""

    __tablename__ = "peacetimedigest"

    liaison_id: str = Field(primary_key=True, max_length=200)
    period: str = Field(primary_key=True, max_length=20)  # 2027-W13 | 2027-03-29
    claimed_at: datetime = _utc_column(nullable=False)
    claimed_by: str = Field(max_length=200)
    message_id: int | None = None
    communities: int = 0


# --- escalation -----------------------------------------------------------------------------


class Timer(SQLModel, table=True):
    """A due step, as a row: an escalation step or a follow-up of one community."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(index=True)
    community_id: str
    kind: str  # escalation | followup
    round: int = 0
    step_index: int = 0
    notify: str  # primary | backup | all_contacts | liaison | oncall | coordinator
    template: str
    task_id: str = ""  # the follow-up task; "" for escalation steps
    due_at: datetime = _utc_column(nullable=False, index=True)
    state: TimerState = _state_column(TimerState, TimerState.PENDING, index=True)
    claimed_by: str | None = None
    claimed_at: datetime | None = _utc_column()
    fired_at: datetime | None = _utc_column()  # only a fired timer has one
    cancelled_at: datetime | None = _utc_column()
    late_seconds: float | None = None

    __table_args__ = (
        sa.UniqueConstraint("incident_id", "community_id", "kind", "round", "step_index",
                            "task_id", name="uq_timer_step"),
        sa.Index("ix_timer_pending_due", "state", "due_at"),
        _state_check("state", TimerState, "timer"),
    )


class WorkerBeat(SQLModel, table=True):
    """A process that fires or sends (worker, serve, or a command's one-off cycle), while it
    runs: it beats `seen_at`; a row not beaten for a while belongs to a dead process."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=20)  # worker | serve | cli
    started_at: datetime = _utc_column(nullable=False)
    seen_at: datetime = _utc_column(nullable=False, index=True)


# --- timeline -------------------------------------------------------------------------------


class Event(SQLModel, table=True):
    """One change of state: the timeline of an incident and the after-action log."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc_column(nullable=False, index=True)
    incident_id: int | None = Field(default=None, index=True)
    community_id: str | None = None
    kind: str = Field(index=True)  # e.g. incident.declared, message.accepted, timer.fired
    actor: str  # "system", "worker:NAME", "staff:ID", "contact:ID", "cli"
    data: dict[str, Any] = _json_column(dict)  # no phone, email, name or free text in here


# --- audit ----------------------------------------------------------------------------------


class AuditEntry(SQLModel, table=True):
    """One change a person or process made, chained to the one before by SHA-256
    (engine/audit/log.py). Rows are only ever added: PostgreSQL and SQLite refuse UPDATE and
    DELETE on this table and on `event` (triggers of migration 0007)."""

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.Integer, nullable=False, unique=True))
    at: datetime = _utc_column(nullable=False)
    actor: str = Field(max_length=200)  # cli:USER@HOST, staff:ID, contact:ID, worker:ID, sms
    action: str = Field(max_length=64)  # incident.declare, registry.withdraw, ...
    object: str | None = Field(default=None, max_length=300)  # incident:12, contact:p3
    result: str = Field(max_length=16)  # ok | refused | error
    source: str | None = Field(default=None, max_length=200)  # host/pid, client address
    details: str = "{}"  # canonical JSON of non-personal details, as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))


# --- staff accounts (the dashboard and the JSON API) ----------------------------------------

ACCOUNT_ROLES = ("coordinator", "liaison", "oncall", "viewer")


def _role_check(table: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{r}'" for r in ACCOUNT_ROLES)
    return sa.CheckConstraint(f"role IN ({allowed})", name=f"ck_{table}_role")


class Account(SQLModel, table=True):
    """A person who logs in to the dashboard: a role, a password and a second factor."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(254), nullable=False, unique=True))
    role: str = Field(max_length=20)
    staff_id: str | None = Field(default=None, max_length=200, index=True)  # the registry's
    password_hash: str | None = None  # argon2; None until enrolled
    # sealed (engine/accounts/sealed.py: v1:...; plain base32 from before sealing until the
    # next login); None until enrolled (or after a 2FA reset)
    totp_secret: str | None = None
    totp_last_step: int | None = None  # the last TOTP time step accepted: never again
    active: bool = True
    created_at: datetime = _utc_column(nullable=False)
    enrolled_at: datetime | None = _utc_column()
    disabled_at: datetime | None = _utc_column()

    __table_args__ = (_role_check("account"),)


class Enrolment(SQLModel, table=True):
    """A one-time link to set a password and a second factor; only its hash is kept."""

    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True)
    purpose: str = Field(max_length=20)  # enrol | reset-2fa
    totp_secret: str | None = None  # the secret the page offers, sealed, until the link is used
    created_at: datetime = _utc_column(nullable=False)
    expires_at: datetime = _utc_column(nullable=False)
    used_at: datetime | None = _utc_column()


class RecoveryCode(SQLModel, table=True):
    """A single-use code that stands in for the second factor; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = _utc_column()


class WebSession(SQLModel, table=True):
    """A browser's login: the cookie holds a random id, this row its hash (so it can be
    revoked); `stage` is `password` between the password and the second factor."""

    id_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True)
    stage: str = Field(max_length=20)  # password | full
    created_at: datetime = _utc_column(nullable=False)
    seen_at: datetime = _utc_column(nullable=False)
    expires_at: datetime = _utc_column(nullable=False)
    revoked_at: datetime | None = _utc_column()


class ApiToken(SQLModel, table=True):
    """A token for scripts on the JSON API, scoped to a role; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    created_by: str = Field(max_length=100)  # "account:ID" or "cli"
    created_at: datetime = _utc_column(nullable=False)
    revoked_at: datetime | None = _utc_column()
    last_used_at: datetime | None = _utc_column()
    # The registry's staff member the token stands for (a liaison's token: whose communities)
    staff_id: str | None = Field(default=None, max_length=200)

    __table_args__ = (_role_check("apitoken"),)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The table of a model, typed: SQLModel sets `__table__` but does not declare it."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table
