"""A declared incident keeps its playbook: reload it from the frozen files, once per digest."""

from __future__ import annotations

from functools import lru_cache

from engine.store.models import Incident
from playbook.loader import load_playbook_files
from playbook.model import IncidentInput

MAIN_FILE_KEY = "__main__"


@lru_cache(maxsize=32)
def _load(digest: str, files: tuple[tuple[str, str], ...]):  # type: ignore[no-untyped-def]
    mapping = dict(files)
    main = mapping.pop(MAIN_FILE_KEY)
    return load_playbook_files(mapping, main)


def freeze_files(files: dict[str, str], main: str) -> dict[str, str]:
    """The files to keep with an incident, with the name of the main YAML file."""
    return {**files, MAIN_FILE_KEY: main}


def playbook_of(incident: Incident):  # type: ignore[no-untyped-def]
    """The playbook an incident was declared with."""
    return _load(incident.playbook_digest, tuple(sorted(incident.playbook_files.items())))


def input_of(incident: Incident) -> IncidentInput:
    """The incident as the coordinator declared it, for templates and expressions."""
    return IncidentInput(
        type=incident.type, declared_at=incident.declared_at, title=incident.title,
        severity=incident.severity, area=incident.area, lat=incident.lat, lon=incident.lon,
        fields=dict(incident.fields), exercise=incident.exercise,
    )
