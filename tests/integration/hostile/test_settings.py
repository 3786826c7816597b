"""Settings that cannot work are refused at start: exit 2, the variable named, what is allowed.

Driven through the real command (`main()` in-process, and once as a separate process), with
the settings in the environment or in `.env`; the database is never created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError, load_settings
from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[3]

REFUSED = [
    ("VERBINDER_SEND_CONCURRENCY", "0", "1..64"),
    ("VERBINDER_SEND_CONCURRENCY", "100000", "1..64"),
    ("VERBINDER_WORKER_HEARTBEAT_SECONDS", "-1", "0.05..3600"),
    ("VERBINDER_WORKER_HEARTBEAT_SECONDS", "nan", "0.05..3600"),
    ("VERBINDER_CLAIM_TIMEOUT_SECONDS", "0", "1..86400"),
    ("TWILIO_VALIDITY_PERIOD", "99999", "1..36000"),
    ("TWILIO_VALIDITY_PERIOD", "0", "1..36000"),
    ("SMTP_PORT", "0", "1..65535"),
    ("SMTP_PORT", "70000", "1..65535"),
    ("SMTP_PORT", "twenty", "1..65535"),
    ("SMTP_STARTTLS", "misschien", "yes, no"),
    ("VERBINDER_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("VERBINDER_INTAKE_TOKEN_DAYS", "-3", "1..365"),
    ("VERBINDER_CONSENT_STALE_DAYS", "0", "1..3650"),
    ("VERBINDER_DATABASE_URL", "postgresql://verbinder@[::1/verbinder", "database URL"),
    ("VERBINDER_DATABASE_URL", "not a url at all", "database URL"),
    ("VERBINDER_DATABASE_URL", "mysql://root@127.0.0.1/verbinder", "sqlite or postgresql"),
    ("VERBINDER_PUBLIC_URL", "javascript:alert(1)", "http(s) URL"),
    ("TWILIO_API_BASE_URL", "http://127.0.0.1:99999", "port"),
    ("SMTP_FROM", "nobody", "address"),
    ("TWILIO_FROM", "+3197\x1b[2J0101", "control character"),
]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `verbinder ARGS` through main() in tmp_path with a clean Verbinder environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("VERBINDER_", "TWILIO_", "SMTP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VERBINDER_DATABASE_URL", f"sqlite:///{tmp_path / 'v.db'}")

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, [*args])

    return _run


@pytest.mark.parametrize(("name", "value", "allowed"), REFUSED,
                         ids=[f"{n}={v!r}" for n, v, _ in REFUSED])
def test_bad_setting_in_environment_exits_2_naming_it(run, monkeypatch, tmp_path: Path,
                                                      name: str, value: str,
                                                      allowed: str) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run("registry", "health")
    assert code == 2, err
    assert out == ""
    assert f"settings: {name}" in err and allowed in err
    assert "\x1b" not in err
    assert not (tmp_path / "v.db").exists()


def test_bad_setting_in_dotenv_is_refused_as_well(run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VERBINDER_SEND_CONCURRENCY=0\nTWILIO_VALIDITY_PERIOD=99999\n")
    code, _, err = run("registry", "health")
    assert code == 2
    assert "VERBINDER_SEND_CONCURRENCY=0" in err and "1..64" in err
    assert "TWILIO_VALIDITY_PERIOD=99999" in err and "1..36000" in err


def test_every_refused_setting_is_listed_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SMTP_PORT": "0", "VERBINDER_SEND_CONCURRENCY": "0",
                       "VERBINDER_LOG_LEVEL": "LOUD"}, dotenv_path=None)
    lines = str(caught.value).splitlines()
    assert [line.split("=")[0].split(":")[0] for line in lines] == [
        "SMTP_PORT", "VERBINDER_LOG_LEVEL", "VERBINDER_SEND_CONCURRENCY"]


def test_secrets_and_database_urls_are_not_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"VERBINDER_DATABASE_URL": "postgresql://u:hunter2@[::1/x",
                       "TWILIO_AUTH_TOKEN": "tok\x00secret"}, dotenv_path=None)
    text = str(caught.value)
    assert "VERBINDER_DATABASE_URL" in text and "TWILIO_AUTH_TOKEN" in text
    assert "hunter2" not in text and "secret" not in text


def test_db_option_is_checked_like_the_setting(run) -> None:
    code, _, err = run("--db", "mysql://root@127.0.0.1/x", "registry", "health")
    assert code == 2 and "--db" in err and "sqlite or postgresql" in err


def test_edge_values_are_accepted() -> None:
    s = load_settings({"VERBINDER_SEND_CONCURRENCY": "64", "TWILIO_VALIDITY_PERIOD": "36000",
                       "SMTP_PORT": "65535", "VERBINDER_WORKER_HEARTBEAT_SECONDS": "0.2",
                       "VERBINDER_LOG_LEVEL": "debug", "SMTP_STARTTLS": "nee",
                       "VERBINDER_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/v"},
                      dotenv_path=None)
    assert (s.send_concurrency, s.twilio_validity_period, s.smtp_port) == (64, 36000, 65535)
    assert (s.log_level, s.smtp_starttls, s.worker_heartbeat_seconds) == ("DEBUG", False, 0.2)


def test_replace_validates_like_loading() -> None:
    base = Settings()
    assert base.replace(send_concurrency=3).send_concurrency == 3
    assert base.send_concurrency == 8
    with pytest.raises(SettingsError, match="VERBINDER_SEND_CONCURRENCY"):
        base.replace(send_concurrency=0)


def test_a_separate_process_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VERBINDER_", "TWILIO_", "SMTP_"))}
    env.update({"VERBINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}",
                "VERBINDER_WORKER_HEARTBEAT_SECONDS": "-5"})
    done = subprocess.run([sys.executable, "-m", "engine.cli", "worker"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "VERBINDER_WORKER_HEARTBEAT_SECONDS=-5" in done.stderr and "0.05..3600" in done.stderr
    assert not (tmp_path / "v.db").exists()


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_refuses_a_port_out_of_range(run, port: str) -> None:
    code, _, err = run("serve", "--no-worker", "--port", port)
    assert code == 2, err
    assert "--port" in err
