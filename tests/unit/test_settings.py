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


def test_dotenv_is_read_as_it_always_was(tmp_path: Path) -> None:
    """`.env` as pydantic-settings read it before python-dotenv read it directly: quotes,
    `export`, comments; an empty value, a name without a value and unknown names left out;
    the attribute's name is read too, the variable's winning over it; a whitespace-only
    environment value does not hide the file's."""
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        'export SMTP_HOST="mail.example.org"  # inline\n'
        "SMTP_USER=\n"
        "SMTP_PASSWORD\n"
        "smtp_port=99\n"
        "Smtp_Port=98\n"
        "log_level=not-read\n"
        "NOT_A_SETTING=1\n"
        "VERBINDER_LOG_LEVEL='debug'\n"
        "SMTP_FROM=Gemeente <crisis@example.org>\n")
    s = load_settings({"VERBINDER_LOG_LEVEL": "  ", "OTHER": "x"}, dotenv_path=env_file)
    assert (s.smtp_host, s.smtp_user, s.smtp_password, s.smtp_port) == (
        "mail.example.org", None, None, 99)
    assert (s.log_level, s.smtp_from) == ("DEBUG", "Gemeente <crisis@example.org>")


def test_bad_value_in_dotenv_is_named_like_one_in_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SMTP_PORT=0\nVERBINDER_LOG_LEVEL=LOUD\n")
    with pytest.raises(SettingsError) as caught:
        load_settings({}, dotenv_path=env_file)
    assert str(caught.value).splitlines() == [
        "SMTP_PORT=0: Input should be greater than or equal to 1 (allowed: 1..65535)",
        "VERBINDER_LOG_LEVEL=LOUD: not a log level (one of DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL)"]


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
