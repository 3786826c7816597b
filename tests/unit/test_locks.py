"""The two lock files agree: requirements-runtime.lock (what `make wheel-check` installs beside
the wheel) pins every declared dependency of the project, each at the version and with the
hashes of requirements.lock (what the development venv installs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def canonicalize_name(name: str) -> str:
    """A package name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Package -> (version, hashes) of a pip-compile lock file with hashes."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    text = path.read_text(encoding="utf-8")
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match:
            out[canonicalize_name(match.group(1))] = (
                match.group(2), frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block)))
    return out


def test_the_runtime_lock_is_the_full_lock_cut_to_what_the_wheel_needs() -> None:
    full = pins(ROOT / "requirements.lock")
    runtime = pins(ROOT / "requirements-runtime.lock")
    assert runtime and all(hashes for _, hashes in runtime.values())
    differing = {name: (pin, full.get(name)) for name, pin in runtime.items()
                 if full.get(name) != pin}
    assert differing == {}
    assert len(runtime) < len(full), "the development tools stay out of the runtime lock"


def test_every_declared_dependency_is_in_the_runtime_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = pins(ROOT / "requirements-runtime.lock")
    names = {text: canonicalize_name(NAME.findall(text)[0]) for text in project["dependencies"]}
    missing = [text for text, name in names.items() if name not in runtime]
    assert missing == []
    for dev in ("pytest", "ruff", "mypy"):
        assert dev not in runtime
