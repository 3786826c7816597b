"""Benchmark: import 10,000 communities and 30,000 contacts, then re-import them unchanged.

Run: `.venv/bin/python -m bench.registry_import [N_COMMUNITIES] [CONTACTS_PER_COMMUNITY]`.
Times SQLite (a temp file) and, when reachable, a throwaway PostgreSQL database.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.generate import generate_registry, write_registry
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import make_engine, migrate

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def time_imports(url: str, folder: Path, n_rows: int) -> list[tuple[str, float, int]]:
    """Time a first import and a re-import; return (label, seconds, changes)."""
    engine = make_engine(url)
    migrate(engine)
    clock = FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    results = []
    try:
        for label in ("first import", "re-import (no change)"):
            start = time.perf_counter()
            report = import_registry(engine, [folder], clock=clock)
            results.append((label, time.perf_counter() - start, report.changes))
    finally:
        engine.dispose()
    return results


def print_results(backend: str, results: list[tuple[str, float, int]], n_rows: int) -> None:
    """One line per timing."""
    for label, seconds, changes in results:
        print(f"  {backend:<10} {label:<24} {seconds:7.2f} s  {n_rows / seconds:9.0f} rows/s"
              f"  changes={changes}")


def _postgres_url() -> tuple[str, sa.Engine] | None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception:
        admin.dispose()
        return None
    name = f"verbinder_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, admin


def main() -> None:
    """Generate, import, re-import, report."""
    n_communities = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    per_community = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = generate_registry(n_communities, per_community, seed=1)
    n_rows = sum(len(t) for t in rows.values())
    print(f"registry import: {len(rows['communities'])} communities, "
          f"{len(rows['contacts'])} contacts, {len(rows['staff'])} staff ({n_rows} rows)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "registry"
        write_registry(folder, rows)
        sqlite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        print_results("sqlite", time_imports(sqlite, folder, n_rows), n_rows)
        pg = _postgres_url()
        if pg is None:
            print("  postgresql not reachable: skipped")
            return
        url, admin = pg
        try:
            print_results("postgresql", time_imports(url, folder, n_rows), n_rows)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                     "WITH (FORCE)")
            admin.dispose()


if __name__ == "__main__":
    main()
