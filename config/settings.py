"""Settings from the environment and a `.env` file in the working folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite:///./verbinder.db"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on", "ja"}:
        return True
    if v in {"0", "false", "no", "off", "nee"}:
        return False
    raise SettingsError(f"not a yes/no value: {value!r}")


@dataclass(frozen=True)
class Settings:
    """Every setting Verbinder reads; defaults serve a first run with no setting at all."""

    database_url: str = DEFAULT_DATABASE_URL
    playbook: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_auth_token_secondary: str | None = field(default=None, repr=False)
    twilio_messaging_service_sid: str | None = None
    twilio_from: str | None = None
    twilio_api_base_url: str | None = None
    twilio_validity_period: int = 3600
    twilio_smart_encoding: bool | None = None  # None: on with a Messaging Service, else off
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True
    smtp_from: str = "Verbinder <verbinder@example.org>"
    console_dir: str | None = None
    log_level: str = "INFO"
    worker_heartbeat_seconds: float = 5.0
    claim_timeout_seconds: float = 120.0
    send_concurrency: int = 8
    intake_token_days: int = 14
    consent_stale_days: int = 365

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


_ENV_NAMES: dict[str, str] = {
    "database_url": "VERBINDER_DATABASE_URL",
    "playbook": "VERBINDER_PLAYBOOK",
    "public_url": "VERBINDER_PUBLIC_URL",
    "secret_key": "VERBINDER_SECRET_KEY",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_auth_token_secondary": "TWILIO_AUTH_TOKEN_SECONDARY",
    "twilio_messaging_service_sid": "TWILIO_MESSAGING_SERVICE_SID",
    "twilio_from": "TWILIO_FROM",
    "twilio_api_base_url": "TWILIO_API_BASE_URL",
    "twilio_validity_period": "TWILIO_VALIDITY_PERIOD",
    "twilio_smart_encoding": "TWILIO_SMART_ENCODING",
    "smtp_host": "SMTP_HOST",
    "smtp_port": "SMTP_PORT",
    "smtp_user": "SMTP_USER",
    "smtp_password": "SMTP_PASSWORD",
    "smtp_starttls": "SMTP_STARTTLS",
    "smtp_from": "SMTP_FROM",
    "console_dir": "VERBINDER_CONSOLE_DIR",
    "log_level": "VERBINDER_LOG_LEVEL",
    "worker_heartbeat_seconds": "VERBINDER_WORKER_HEARTBEAT_SECONDS",
    "claim_timeout_seconds": "VERBINDER_CLAIM_TIMEOUT_SECONDS",
    "send_concurrency": "VERBINDER_SEND_CONCURRENCY",
    "intake_token_days": "VERBINDER_INTAKE_TOKEN_DAYS",
    "consent_stale_days": "VERBINDER_CONSENT_STALE_DAYS",
}


def env_name(attribute: str) -> str:
    """The environment variable that sets a Settings attribute."""
    return _ENV_NAMES[attribute]


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read settings from `.env` (if present) overlaid by the environment."""
    values: dict[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update(dotenv_values(dotenv_path))
    values.update(os.environ if environ is None else environ)
    kwargs: dict[str, object] = {}
    for f in fields(Settings):
        raw = values.get(_ENV_NAMES[f.name])
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        try:
            if f.type in ("int",):
                kwargs[f.name] = int(raw)
            elif f.type in ("float",):
                kwargs[f.name] = float(raw)
            elif f.type in ("bool", "bool | None"):
                kwargs[f.name] = _flag(raw, True)
            else:
                kwargs[f.name] = raw
        except (ValueError, SettingsError) as exc:
            raise SettingsError(f"{_ENV_NAMES[f.name]}: {exc}") from exc
    return Settings(**kwargs)  # type: ignore[arg-type]
