"""The registry services: import, export and health of the social map.

Keyword-only verbs over an engine: each owns its transaction (an import writes all or nothing;
an export and the health check read in a read-only transaction, so they never wait for a
writer). They return reports; the command line and the web print them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from engine.clock import Clock
from engine.registry import importer
from engine.registry.export import RegistryExport, build_export
from engine.registry.health import HealthReport, check_health
from engine.registry.importer import ImportReport
from engine.store.db import reading
from playbook.model import Playbook


def import_registry(*, engine: Engine, paths: Sequence[str | Path], clock: Clock,
                    dry_run: bool = False, actor: str = "cli") -> ImportReport:
    """Import CSV files, a folder or one .xlsx all or nothing (REGISTRY.md); a refusal raises
    RegistryImportError with every problem and changes nothing."""
    return importer.import_registry(engine, paths, clock=clock, dry_run=dry_run, actor=actor)


def export_registry(*, engine: Engine, public: bool,
                    include_inactive: bool = False) -> RegistryExport:
    """The registry as export tables; `public` leaves out every person and the liaison."""
    with reading(engine).connect() as conn:
        return build_export(conn, public=public, include_inactive=include_inactive)


def registry_health(*, engine: Engine, now: datetime, consent_stale_days: int,
                    playbook: Playbook | None = None) -> HealthReport:
    """Peace-time gaps: communities with no or one eligible contact, consent missing or stale,
    liaisons missing or inactive, contacts of inactive communities, staff roles nobody has,
    and (given the playbook) languages of contacts that its templates do not have."""
    with reading(engine).connect() as conn:
        return check_health(conn, now=now, consent_stale_days=consent_stale_days,
                            playbook=playbook)
