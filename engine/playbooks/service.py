"""The playbook services: which playbook is configured, loading it, and checking one.

Refusals become InputError (exit 2 on the command line); nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import playbook as playbook_package
from engine.errors import InputError
from playbook.errors import PlaybookError, Problem
from playbook.loader import load_playbook
from playbook.model import Playbook
from playbook.probe import probe_playbook
from playbook.sms import lookalike_warnings


def default_playbook_path() -> Path:
    """The shipped default playbook."""
    return Path(playbook_package.__file__).resolve().parent / "default" / "playbook.yaml"


def configured_playbook_path(*, option: str | None, setting: str | None) -> Path:
    """`--playbook` (option), else the VERBINDER_PLAYBOOK setting, else the shipped default."""
    chosen = option or setting
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


@dataclass(frozen=True)
class PlaybookCheck:
    """What checking a playbook found: its problems (then no playbook), or the playbook with
    its warnings."""

    path: str
    playbook: Playbook | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the playbook has no problem (warnings allowed)."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The `playbook check --json` document."""
        doc: dict[str, Any] = {"path": self.path, "ok": self.ok,
                               "problems": [p.to_json() for p in self.problems]}
        if self.playbook is not None:
            doc.update({"id": self.playbook.id, "version": self.playbook.version,
                        "digest": self.playbook.digest, "files": sorted(self.playbook.files)})
        doc["warnings"] = [w.to_json() for w in self.warnings]
        return doc


def check_playbook(*, path: Path) -> PlaybookCheck:
    """Validate a playbook file: every problem with file and position, and on a valid one the
    SMS texts that leave GSM-7 only for characters with a GSM-7 look-alike (warnings)."""
    try:
        loaded = load_playbook(path)
    except PlaybookError as exc:
        return PlaybookCheck(str(path), None, problems=list(exc.problems))
    problems = probe_playbook(loaded, str(path))
    if problems:
        return PlaybookCheck(str(path), None, problems=problems)
    return PlaybookCheck(str(path), loaded, warnings=lookalike_warnings(loaded))


# What each field type accepts, for people (Dutch / English) and for `incident types`.
FIELD_TYPE_TEXTS = {
    "string": "tekst / text",
    "int": "geheel getal / whole number",
    "bool": "ja/nee / true/false",
    "enum": "een van / one of",
    "community": "id van een actieve gemeenschap / id of an active community "
                 "(registry export lists them)",
    "tag": "tag van een actieve gemeenschap / tag of an active community",
}


@dataclass(frozen=True)
class IncidentTypes:
    """The playbook's incident types with their fields (`incident types`)."""

    playbook: Playbook

    def as_dict(self) -> dict[str, Any]:
        """The `incident types --json` document: types in playbook order, each with its
        labels, default severity and fields (type, whether required, allowed values)."""
        p = self.playbook
        return {
            "playbook": {"id": p.id, "version": p.version},
            "incident_types": [{
                "id": t.id, "label": p.text(t.label, t.id), "labels": dict(t.label),
                "default_severity": t.default_severity,
                "fields": [{"name": f.name, "type": f.type, "required": f.required,
                            "values": list(f.values)} for f in t.fields.values()],
            } for t in p.incident_types.values()],
        }


def incident_types(*, playbook: Playbook) -> IncidentTypes:
    """The incident types of a playbook, for a coordinator who must pick one."""
    return IncidentTypes(playbook)
