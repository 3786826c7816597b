"""Which playbook is configured, and loading it (refusals become InputError, exit 2)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import playbook as playbook_package
from engine.errors import InputError
from playbook.errors import PlaybookError
from playbook.loader import load_playbook
from playbook.model import Playbook
from playbook.probe import probe_playbook

if TYPE_CHECKING:
    from engine.wiring import AppContext


def default_playbook_path() -> Path:
    """The shipped default playbook."""
    return Path(playbook_package.__file__).resolve().parent / "default" / "playbook.yaml"


def configured_playbook_path(ctx: AppContext) -> Path:
    """`--playbook`, else the VERBINDER_PLAYBOOK setting, else the shipped default."""
    chosen = ctx.playbook_path or ctx.settings.playbook
    return Path(chosen) if chosen else default_playbook_path()


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> Playbook:
    loaded = load_playbook(path)
    problems = probe_playbook(loaded, path)  # what blows its budget whatever the data
    if problems:
        raise PlaybookError(problems)
    return loaded


def load_path(path: str | Path) -> Playbook:
    """Load a playbook file; InputError lists every problem as `file:line:col: message`."""
    try:
        stat = Path(path).stat()
    except OSError:
        raise InputError(f"{path}: playbook file not found") from None
    try:
        return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)
    except PlaybookError as exc:
        raise InputError([str(p) for p in exc.problems]) from None


def load_configured(ctx: AppContext) -> Playbook:
    """The configured playbook (see configured_playbook_path), loaded and validated."""
    return load_path(configured_playbook_path(ctx))
