"""Benchmark: `incident preview` over generated registries of 1,000, 10,000 and 50,000 communities.

Run: `.venv/bin/python -m bench.preview [N ...]` (three contacts per community). For each size it
bulk-loads a fresh SQLite file, then reports the median of a few runs of:
  end to end  load the playbook (cold caches) + read the registry + build + JSON document
  load        `load_snapshot` alone: reading the registry rows into plain data
  build       `build_checklist` alone: rule evaluation, contacts, ordering
and the peak Python memory of one end-to-end run (tracemalloc). Writes nothing into the repo.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.generate import generate_registry
from config.settings import Settings
from engine.clock import FakeClock
from engine.incidents import service as incidents
from engine.incidents.options import IncidentOptions, incident_input_from_options
from engine.playbooks import service
from engine.registry.snapshot import load_snapshot
from engine.store.db import make_engine, migrate
from engine.store.models import Community, Contact
from engine.wiring import AppContext
from playbook import expressions
from playbook.builder import build_checklist
from playbook.loader import load_playbook
from playbook.model import IncidentInput

SIZES = [1_000, 10_000, 50_000]
CONTACTS_PER_COMMUNITY = 3
RUNS = 3
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OPTIONS = IncidentOptions(type="terrorist_attack", fields=("motive=jihadist",),
                          at="2026-03-01T09:00:00Z")


def _split(value: str) -> list[str]:
    return [v for v in value.split(";") if v]


def fill(url: str, n: int) -> None:
    """Generate n communities (three contacts each) and bulk-insert them."""
    rows = generate_registry(n, CONTACTS_PER_COMMUNITY, seed=7)
    extra = {"id", "name", "kind", "tags", "languages", "area", "lat", "lon", "liaison"}
    communities = [
        {"id": r["id"], "name": r["name"], "kind": r["kind"], "tags": _split(r["tags"]),
         "languages": _split(r["languages"]), "area": r["area"] or None,
         "lat": float(r["lat"]), "lon": float(r["lon"]), "liaison_id": r["liaison"],
         "attributes": {k: v for k, v in r.items() if k not in extra and v}, "active": True}
        for r in rows["communities"]
    ]
    contacts = [
        {"id": r["id"], "community_id": r["community"], "name": r["name"], "role": r["role"],
         "priority": int(r["priority"]), "phone": "+316" + r["phone"][4:] if r["phone"] else None,
         "email": r["email"] or None,
         "channel": r["channel"] or ("sms" if r["phone"] else "email"),
         "language": r["language"] or None,
         "consent": date.fromisoformat(r["consent"]) if r["consent"] else None,
         "active": r["active"] == "ja"}
        for r in rows["contacts"]
    ]
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(Community.__table__.insert(), communities)
        conn.execute(Contact.__table__.insert(), contacts)
    engine.dispose()


def cold_caches() -> None:
    """Forget loaded playbooks and compiled expressions, as a fresh process would."""
    service._load_cached.cache_clear()
    expressions.compile_expression.cache_clear()
    expressions.compile_template.cache_clear()


def median_seconds(action: Callable[[], Any], runs: int = RUNS) -> float:
    """Median wall time of a few runs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(n: int, folder: Path) -> dict[str, float]:
    """Figures for one registry size."""
    url = f"sqlite:///{folder / f'bench-{n}.db'}"
    fill(url, n)
    ctx = AppContext(settings=Settings(), clock=FakeClock(AT), db_url=url)
    ctx.engine  # noqa: B018 - migrate outside the timings

    def end_to_end() -> None:
        cold_caches()
        playbook = ctx.load_playbook()
        incident = incident_input_from_options(playbook, OPTIONS, ctx.clock)
        json.dumps(incidents.preview(engine=ctx.engine, playbook=playbook,
                                     incident=incident).to_json())

    def load() -> Any:
        with ctx.engine.connect() as conn:
            return load_snapshot(conn)

    snapshot = load()
    playbook = load_playbook(service.default_playbook_path())
    incident = IncidentInput(type="terrorist_attack", declared_at=AT,
                             fields={"motive": "jihadist"})
    checklist = build_checklist(playbook, incident, snapshot.communities, snapshot.contacts)
    figures = {
        "end_to_end": median_seconds(end_to_end),
        "load": median_seconds(load),
        "build": median_seconds(lambda: build_checklist(
            playbook, incident, snapshot.communities, snapshot.contacts, snapshot.opted_out)),
        "matched": float(len(checklist.communities)),
    }
    tracemalloc.start()
    end_to_end()
    figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    ctx.engine.dispose()
    return figures


def main(sizes: list[int]) -> None:
    """Print a small report table."""
    print(f"incident preview, terrorist_attack/jihadist, {CONTACTS_PER_COMMUNITY} contacts per "
          f"community, median of {RUNS} runs, SQLite file")
    print(f"{'communities':>12} {'matched':>8} {'end-to-end':>11} {'load rows':>10} "
          f"{'build':>8} {'build/load':>10} {'peak MB':>8} {'us/community':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            f = measure(n, Path(tmp))
            print(f"{n:>12,} {int(f['matched']):>8,} {f['end_to_end']:>10.3f}s "
                  f"{f['load']:>9.3f}s {f['build']:>7.3f}s {f['build'] / f['load']:>10.2f} "
                  f"{f['peak_mb']:>8.1f} {f['end_to_end'] / n * 1e6:>13.1f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or SIZES)
