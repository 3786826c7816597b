"""Settings: defaults, .env, environment precedence, and .env.example documenting every one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import (
    Settings,
    SettingsError,
    database_url_parts,
    env_name,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def test_defaults_serve_a_first_run_without_any_setting(tmp_path: Path) -> None:
    s = load_settings({}, dotenv_path=tmp_path / "missing.env")
    assert s.database_url == "sqlite:///./verbinder.db"
    assert not s.twilio_configured and not s.smtp_configured


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SMTP_HOST=mail.example.org\nSMTP_PORT=2525\nSMTP_STARTTLS=nee\n")
    s = load_settings({"SMTP_PORT": "25"}, dotenv_path=env_file)
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("mail.example.org", 25, False)
    assert s.smtp_configured


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SMTP_PORT"):
        load_settings({"SMTP_PORT": "twenty"}, dotenv_path=None)
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):
        load_settings({"SMTP_STARTTLS": "maybe"}, dotenv_path=None)


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.M))
    assert documented == {env_name(name) for name in Settings.model_fields}


def test_secrets_stay_out_of_repr() -> None:
    s = Settings(twilio_auth_token="tok-secret", smtp_password="pw-secret")
    assert "tok-secret" not in repr(s) and "pw-secret" not in repr(s)


def test_env_example_as_dotenv_loads_to_the_defaults() -> None:
    assert load_settings({}, dotenv_path=ROOT / ".env.example") == Settings()


@pytest.mark.parametrize("url", [
    "sqlite:///./verbinder.db", "sqlite://", "sqlite:////tmp/v.db", "sqlite:///:memory:",
    "postgresql+psycopg://postgres@127.0.0.1:5432/verbinder", "postgresql://u:p%40ss@h/db",
    "postgresql://[::1]:5432/v", "postgresql://verbinder@[::1/verbinder", "postgresql://h:x/v",
    "postgresql://h:/v", "postgresql://h:²/v", "postgresql://h:٥/v",
    "postgresql://u@h", "postgresql://u@h/", "postgresql://u@h/%2Fd?sslmode=require",
    "mysql://root@127.0.0.1/verbinder", "not a url at all", "://x", "sqlite:/x.db",
    "Postgresql://h/v", "postgresql+psycopg2+x://h/v", "",
])
def test_database_urls_are_read_as_sqlalchemy_reads_them(url: str) -> None:
    """The settings check URLs without importing SQLAlchemy, and agree with it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        with pytest.raises(ValueError, match="not a database URL"):
            database_url_parts(url)
        return
    assert database_url_parts(url) == (parsed.get_backend_name(), parsed.database)
