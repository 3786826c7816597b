"""Settings from the environment and a `.env` file in the working folder, validated at start.

python-dotenv reads the `.env` file; the environment (or the mapping a caller hands in)
overrides it. Every value is checked against its allowed range before anything runs, and a
refused value is named by its environment variable, with what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

DEFAULT_DATABASE_URL = "sqlite:///./verbinder.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on", "ja", "y", "j"}
_FALSE = {"0", "false", "no", "off", "nee", "n"}
# Control characters in a setting would end up in headers, URLs or log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# SQLAlchemy's own URL pattern (sqlalchemy.engine.url._parse_url): the database URL is checked
# as SQLAlchemy will read it, without importing SQLAlchemy into every command (a fifth of a
# second; `playbook check` and `--help` open no database). tests/unit/test_settings.py holds
# the two to the same answers.
_DATABASE_URL = re.compile(r"""
    (?P<name>[\w\+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """, re.X)


def database_url_parts(value: str) -> tuple[str, str | None]:
    """The backend (`sqlite`, `postgresql`, ...) and database of a URL, as SQLAlchemy reads
    them; ValueError when SQLAlchemy could not read it."""
    found = _DATABASE_URL.match(value)
    try:
        if found is None:
            raise ValueError("no scheme")
        if found["port"] is not None:
            int(found["port"])
    except ValueError:
        raise ValueError("not a database URL (sqlite:///FILE or "
                         "postgresql://USER@HOST:PORT/DATABASE)") from None
    database = found["database"]
    return found["name"].split("+")[0], None if database is None else unquote(database)


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names every such setting."""


def _yes_no(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError("not a yes/no value (yes, no, true, false, 1, 0, ja, nee)")
    return value


YesNo = Annotated[bool, BeforeValidator(_yes_no)]


def _url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host ({what})")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    return value


class Settings(BaseModel):
    """Every setting Verbinder reads; defaults serve a first run with no setting at all.

    Constructing one reads nothing from the environment; `load_settings` does that.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True,
                              validate_by_alias=True, str_strip_whitespace=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="VERBINDER_DATABASE_URL")
    playbook: str | None = Field(None, alias="VERBINDER_PLAYBOOK")
    public_url: str = Field("http://127.0.0.1:8000", alias="VERBINDER_PUBLIC_URL")
    secret_key: str | None = Field(None, alias="VERBINDER_SECRET_KEY", repr=False)
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(None, alias="TWILIO_AUTH_TOKEN", repr=False)
    twilio_auth_token_secondary: str | None = Field(None, alias="TWILIO_AUTH_TOKEN_SECONDARY",
                                                    repr=False)
    twilio_messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_from: str | None = Field(None, alias="TWILIO_FROM")
    twilio_api_base_url: str | None = Field(None, alias="TWILIO_API_BASE_URL")
    # Twilio's Messages API accepts ValidityPeriod from 1 to 36000 seconds.
    twilio_validity_period: int = Field(3600, alias="TWILIO_VALIDITY_PERIOD", ge=1, le=36000)
    # None: on with a Messaging Service (Twilio's default there), off for a plain From number.
    twilio_smart_encoding: YesNo | None = Field(None, alias="TWILIO_SMART_ENCODING")
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT", ge=1, le=65535)
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: str | None = Field(None, alias="SMTP_PASSWORD", repr=False)
    smtp_starttls: YesNo = Field(True, alias="SMTP_STARTTLS")
    smtp_from: str = Field("Verbinder <verbinder@example.org>", alias="SMTP_FROM")
    console_dir: str | None = Field(None, alias="VERBINDER_CONSOLE_DIR")
    log_level: str = Field("INFO", alias="VERBINDER_LOG_LEVEL")
    worker_heartbeat_seconds: float = Field(5.0, alias="VERBINDER_WORKER_HEARTBEAT_SECONDS",
                                            ge=0.05, le=3600)
    claim_timeout_seconds: float = Field(120.0, alias="VERBINDER_CLAIM_TIMEOUT_SECONDS",
                                         ge=1, le=86400)
    send_concurrency: int = Field(8, alias="VERBINDER_SEND_CONCURRENCY", ge=1, le=64)
    intake_token_days: int = Field(14, alias="VERBINDER_INTAKE_TOKEN_DAYS", ge=1, le=365)
    consent_stale_days: int = Field(365, alias="VERBINDER_CONSENT_STALE_DAYS", ge=1, le=3650)
    # How long personal data is kept (`verbinder purge`, docs/PRIVACY.md). Withdrawn: 0 erases
    # at the next purge. Inactive: at least 30 days, so that a contact an import left out by
    # mistake can be put back before it is erased.
    retention_withdrawn_days: int = Field(30, alias="VERBINDER_RETENTION_WITHDRAWN_DAYS", ge=0,
                                          le=3650)
    retention_inactive_days: int = Field(365, alias="VERBINDER_RETENTION_INACTIVE_DAYS", ge=30,
                                         le=3650)
    retention_closed_months: int = Field(12, alias="VERBINDER_RETENTION_CLOSED_MONTHS", ge=1,
                                         le=120)

    _SECRETS: ClassVar[frozenset[str]] = frozenset({
        "secret_key", "twilio_auth_token", "twilio_auth_token_secondary", "smtp_password"})

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("holds a control character")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        backend, database = database_url_parts(value)
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"database '{backend}' is not supported (sqlite or postgresql)")
        if backend == "postgresql" and not database:
            raise ValueError("a PostgreSQL URL needs a database name")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _url(value, "the address people and Twilio reach")

    @field_validator("twilio_api_base_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        return None if value is None else _url(value, "the Twilio REST API")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"not a log level (one of {', '.join(LOG_LEVELS)})")
        return level

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        from email.utils import parseaddr

        if "@" not in parseaddr(value)[1]:
            raise ValueError("not an address such as 'Verbinder <verbinder@example.org>'")
        return value

    @property
    def twilio_configured(self) -> bool:
        """True when SMS goes through Twilio rather than the console channel."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def sms_smart_encoded(self) -> bool:
        """Whether Twilio replaces GSM-7 look-alikes before sending (Smart Encoding)."""
        if self.twilio_smart_encoding is not None:
            return self.twilio_smart_encoding
        return bool(self.twilio_messaging_service_sid)

    @property
    def smtp_configured(self) -> bool:
        """True when email goes through SMTP rather than the console channel."""
        return bool(self.smtp_host)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some attributes changed, validated like loaded settings (SettingsError)."""
        return _validated(Settings, {**self.model_dump(), **changes})


def env_name(attribute: str) -> str:
    """The environment variable that sets a Settings attribute."""
    alias = Settings.model_fields[attribute].alias
    assert alias is not None
    return alias


def allowed_range(attribute: str) -> str | None:
    """The allowed range of a numeric setting, as `LOW..HIGH`, or None."""
    low = high = None
    for item in Settings.model_fields[attribute].metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    if low is None and high is None:
        return None
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _attribute_of(loc: tuple[Any, ...]) -> str | None:
    if not loc:
        return None
    key = str(loc[0])
    by_alias = {f.alias: name for name, f in Settings.model_fields.items()}
    return by_alias.get(key, key if key in Settings.model_fields else None)


def _shown(attribute: str, value: Any) -> str:
    """`=VALUE` for an error line; secrets, URLs with credentials and odd text stay out."""
    if attribute in Settings._SECRETS or attribute == "database_url" or value is None:
        return ""
    text = str(value)
    if len(text) > 80 or _CONTROL.search(text):
        return ""
    return f"={text}"


def _problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        attribute = _attribute_of(item["loc"])
        if attribute is None:
            lines.append(f"{'.'.join(map(str, item['loc']))}: {item['msg']}")
            continue
        name = env_name(attribute)
        shown = _shown(attribute, item.get("input"))
        message = item["msg"].removeprefix("Value error, ")
        limits = allowed_range(attribute)
        suffix = f" (allowed: {limits})" if limits and "(allowed" not in message else ""
        lines.append(f"{name}{shown}: {message}{suffix}")
    return lines


def _validated(cls: type[Settings], values: Mapping[str, Any]) -> Settings:
    try:
        return cls.model_validate(dict(values))
    except ValidationError as exc:
        raise SettingsError("\n".join(_problems(exc))) from None


def _dotenv(path: Path, names: set[str]) -> dict[str, str]:
    """The settings a `.env` file gives, read as pydantic-settings read it before: python-dotenv,
    UTF-8; an environment variable's name (case-sensitive) or the attribute's (`smtp_port`, the
    variable's name winning when both are given); a name without a value or with an empty one
    left out; any other name ignored."""
    from dotenv import dotenv_values  # only when there is a file to read

    path = path.expanduser()
    if not (path.is_file() or path.is_fifo()):
        return {}
    known = names | set(Settings.model_fields)
    return {k: v for k, v in dotenv_values(path, encoding="utf8").items()
            if k in known and v is not None and v != ""}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read settings from `.env` (if present) overlaid by the environment; SettingsError names
    every refused value by its environment variable and what is allowed."""
    source = os.environ if environ is None else environ
    names = {f.alias for f in Settings.model_fields.values() if f.alias is not None}
    given: dict[str, Any] = {
        k: v for k, v in source.items() if k in names and v is not None and v.strip()}
    env_file = Path(dotenv_path) if dotenv_path is not None else None
    from_file = _dotenv(env_file, names) if env_file is not None and env_file.is_file() else {}
    values = {**from_file, **given}
    # A variable's name wins over the attribute's, which is then not read at all.
    for attribute, field in Settings.model_fields.items():
        if field.alias in values:
            values.pop(attribute, None)
    return _validated(Settings, values)


__all__ = ["DEFAULT_DATABASE_URL", "Settings", "SettingsError", "allowed_range", "env_name",
           "load_settings"]
