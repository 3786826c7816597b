"""Importing the social map: read, validate, compare with the store, write in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.audit.log import append
from engine.clock import Clock
from engine.privacy.consent import reconcile_import
from engine.registry.liaisons import record_import_changes
from engine.registry.problems import RegistryImportError
from engine.registry.sources import TABLES, read_sources
from engine.registry.validate import KnownIds, Row, validate_import
from engine.store.db import session_scope
from engine.store.models import Community, Contact, Event, Staff

STORE_TABLES: dict[str, sa.Table] = {
    "communities": Community.__table__,  # type: ignore[dict-item]
    "contacts": Contact.__table__,  # type: ignore[dict-item]
    "staff": Staff.__table__,  # type: ignore[dict-item]
}
_CHUNK = 500


@dataclass
class TableChanges:
    """What an import does to one table."""

    included: bool = False
    rows: int = 0
    added: list[Row] = field(default_factory=list)
    changed: list[Row] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        """Rows of the import that match the store already."""
        return self.rows - len(self.added) - len(self.changed)

    def counts(self) -> dict[str, Any]:
        """The counts as a JSON-ready object (`removed` = `deactivated`, the spec's word)."""
        return {"included": self.included, "rows": self.rows, "added": len(self.added),
                "changed": len(self.changed), "deactivated": len(self.deactivated),
                "removed": len(self.deactivated), "unchanged": self.unchanged}


@dataclass
class ImportReport:
    """The outcome of an import (or of a dry run)."""

    dry_run: bool
    tables: dict[str, TableChanges]
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Rows added, changed or deactivated over all tables."""
        return sum(len(t.added) + len(t.changed) + len(t.deactivated)
                   for t in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as the `--json` document."""
        doc: dict[str, Any] = {"dry_run": self.dry_run, "changes": self.changes}
        doc.update({name: t.counts() for name, t in self.tables.items()})
        doc["warnings"] = self.warnings
        return doc


def import_registry(
    engine: Engine, paths: Sequence[str | Path], *, clock: Clock, dry_run: bool = False,
    actor: str = "cli",
) -> ImportReport:
    """Import files all or nothing; raise RegistryImportError with every problem."""
    raw = read_sources(paths)
    if raw.problems and not raw.tables:
        raise RegistryImportError(raw.problems)
    with session_scope(engine) as session:
        conn = session.connection()
        existing = {name: load_rows(conn, name) for name in raw.tables}
        valid = validate_import(raw, _known_ids(conn, existing))
        if valid.problems:
            raise RegistryImportError(valid.problems)
        report = ImportReport(dry_run, {
            name: plan_changes(valid.tables[name], existing[name]) if name in valid.tables
            else TableChanges() for name in TABLES
        })
        report.warnings = dangling_references(existing_after(conn, existing, report))
        if not dry_run and report.changes:
            write_changes(conn, report, clock.now(), actor)
            communities = report.tables["communities"]
            record_import_changes(conn, added=communities.added, changed=communities.changed,
                                  existing=existing.get("communities", {}), now=clock.now(),
                                  actor=actor)
            append(session, actor=actor, action="registry.import", object="registry",
                   at=clock.now(), details={n: t.counts() for n, t in report.tables.items()
                                            if t.included})
        report.warnings += reconcile_import(session, valid.tables.get("contacts"),
                                            now=clock.now(), actor=actor, dry_run=dry_run)
    return report


def load_rows(conn: Connection, name: str) -> dict[str, Row]:
    """Every row of a store table (active or not) by id, without `updated_at`."""
    table = STORE_TABLES[name]
    cols = [c for c in table.c if c.name != "updated_at"]
    return {r["id"]: _plain(dict(r)) for r in conn.execute(sa.select(*cols)).mappings()}


def _plain(row: Row) -> Row:
    for key in ("tags", "languages", "roles"):
        if key in row:
            row[key] = list(row[key] or [])
    if "attributes" in row:
        row["attributes"] = dict(row["attributes"] or {})
    return row


def _known_ids(conn: Connection, existing: dict[str, dict[str, Row]]) -> KnownIds:
    def ids(name: str) -> set[str]:
        if name in existing:
            return set(existing[name])
        table = STORE_TABLES[name]
        return set(conn.execute(sa.select(table.c.id)).scalars())

    return KnownIds(communities=ids("communities"), staff=ids("staff"))


def plan_changes(rows: list[Row], existing: dict[str, Row]) -> TableChanges:
    """Compare imported rows with the store: added, changed, and missing ones to deactivate."""
    changes = TableChanges(included=True, rows=len(rows))
    seen: set[str] = set()
    for row in rows:
        seen.add(row["id"])
        before = existing.get(row["id"])
        if before is None:
            changes.added.append(row)
        elif any(before.get(k) != value for k, value in row.items()):
            changes.changed.append(row)
    changes.deactivated = sorted(i for i, r in existing.items() if i not in seen and r["active"])
    return changes


def write_changes(conn: Connection, report: ImportReport, now: datetime, actor: str) -> None:
    """Bulk insert, update and deactivate; record one `registry.imported` event."""
    for name, changes in report.tables.items():
        table = STORE_TABLES[name]
        # A row the import writes holds its data again, whatever purge erased before.
        fresh = {"erased_at": None} if "erased_at" in table.c else {}
        if changes.added:
            conn.execute(sa.insert(table), [{**r, "updated_at": now, **fresh}
                                            for r in changes.added])
        if changes.changed:
            stmt = sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            conn.execute(stmt, [{**{k: val for k, val in r.items() if k != "id"},
                                 "b_id": r["id"], "updated_at": now, **fresh}
                                for r in changes.changed])
        for start in range(0, len(changes.deactivated), _CHUNK):
            chunk = changes.deactivated[start:start + _CHUNK]
            conn.execute(sa.update(table).where(table.c.id.in_(chunk))
                         .values(active=False, updated_at=now))
    data = {name: {k: val for k, val in t.counts().items() if k != "removed"}
            for name, t in report.tables.items() if t.included}
    conn.execute(sa.insert(Event.__table__), [{  # type: ignore[arg-type]
        "at": now, "kind": "registry.imported", "actor": actor, "data": data,
    }])


def existing_after(conn: Connection, existing: dict[str, dict[str, Row]], report: ImportReport
                   ) -> dict[str, dict[str, Row]]:
    """The registry as it will be once the import is written (rows by id, per table)."""
    after: dict[str, dict[str, Row]] = {}
    for name in TABLES:
        rows = dict(existing[name]) if name in existing else load_rows(conn, name)
        changes = report.tables[name]
        rows.update({r["id"]: r for r in changes.added + changes.changed})
        for row_id in changes.deactivated:
            rows[row_id] = {**rows[row_id], "active": False}
        after[name] = rows
    return after


def dangling_references(after: dict[str, dict[str, Row]]) -> list[str]:
    """Active rows that will point at an inactive community or liaison (allowed, but a gap)."""
    communities, staff = after["communities"], after["staff"]
    orphans = sorted(i for i, r in after["contacts"].items() if r["active"]
                     and not communities.get(r["community_id"], {}).get("active"))
    no_liaison = sorted(i for i, r in communities.items() if r["active"] and r["liaison_id"]
                        and not staff.get(r["liaison_id"], {}).get("active"))
    warnings = []
    if orphans:
        warnings.append(f"{len(orphans)} actieve contactpersonen horen bij een inactieve "
                        f"gemeenschap / active contacts belong to an inactive community: "
                        f"{_some(orphans)}")
    if no_liaison:
        warnings.append(f"{len(no_liaison)} gemeenschappen hebben een inactieve contactambtenaar "
                        f"/ communities have an inactive liaison: {_some(no_liaison)}")
    return warnings


def _some(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (", ..." if len(ids) > limit else "")
