"""Benchmark: the store work behind the dashboard's registry and peace-time pages.

Run: `.venv/bin/python -m bench.registry_pages [N_COMMUNITIES] [N_LOGGED]` (default 10,000
communities with 3 contacts each and 20,000 logged contacts). Per backend (SQLite, and
PostgreSQL when it answers on loopback) it times, each in a read-only transaction as the web
runs them: a search (empty, one word, a liaison's own), one community's page
(`community_peacetime` with readiness and due status, over random communities), and the due
list of one liaison and of everyone. Prints p50 and p95 in milliseconds. Writes nothing into
the repo.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.generate import generate_registry, write_registry
from bench.support import backends, throwaway_store
from engine.clock import FakeClock
from engine.peacetime import service as peacetime
from engine.registry import service as registry
from engine.registry.importer import import_registry
from engine.store.bulk import insert_rows
from engine.store.db import make_engine, migrate, session_scope
from engine.store.models import ContactLog, ContactLogCommunity
from playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbook" / "default" / "playbook.yaml"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _times(work: Callable[[], Any], rounds: int) -> tuple[float, float]:
    seen = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        seen.append((time.perf_counter() - start) * 1000)
    seen.sort()
    return statistics.median(seen), seen[min(len(seen) - 1, int(len(seen) * 0.95))]


def _fill(url: str, n_communities: int, n_logged: int) -> tuple[Any, list[str], list[str]]:
    engine = make_engine(url)
    migrate(engine)
    rows = generate_registry(n_communities, 3)
    with tempfile.TemporaryDirectory() as tmp:
        import_registry(engine, write_registry(tmp, rows), clock=FakeClock(NOW))
    ids = [c["id"] for c in rows["communities"]]
    staff = sorted({c["liaison"] for c in rows["communities"] if c["liaison"]})
    rng = random.Random(3)
    logs = [{"id": i + 1, "at": NOW - timedelta(days=rng.randint(1, 365)),
             "kind": "visit", "staff_id": rng.choice(staff), "place": None,
             "neutral_ground": False, "created_at": NOW, "created_by": "bench",
             "note_id": None} for i in range(n_logged)]
    links = [{"log_id": i + 1, "community_id": rng.choice(ids)} for i in range(n_logged)]
    with session_scope(engine) as session:
        insert_rows(session.connection(), ContactLog.__table__, logs)  # type: ignore[attr-defined]
        insert_rows(session.connection(), ContactLogCommunity.__table__,  # type: ignore[attr-defined]
                    links)
    return engine, ids, staff


def run(backend: str, n_communities: int, n_logged: int) -> None:
    """Fill a fresh store and time each page's store work."""
    playbook = load_playbook(PLAYBOOK)
    with throwaway_store(backend) as url:
        engine, ids, staff = _fill(url, n_communities, n_logged)
        rng = random.Random(5)

        def read(work: Callable[[Any], Any]) -> Callable[[], Any]:
            def go() -> Any:
                with session_scope(engine, read_only=True) as session:
                    return work(session)
            return go

        cases = {
            "search, no words (first 100)": read(lambda s: registry.search_communities(
                session=s, limit=100)),
            "search 'faith'": read(lambda s: registry.search_communities(
                session=s, query="faith", limit=100)),
            "search, a liaison's own": read(lambda s: registry.search_communities(
                session=s, liaison=staff[1], limit=100)),
            "community page": read(lambda s: peacetime.community_peacetime(
                session=s, community=rng.choice(ids), playbook=playbook, now=NOW,
                consent_stale_days=365, include_notes=True)),
            "due list, one liaison": read(lambda s: peacetime.due_report(
                session=s, playbook=playbook, now=NOW, liaison=staff[1])),
            "due list, everyone": read(lambda s: peacetime.due_report(
                session=s, playbook=playbook, now=NOW)),
        }
        print(f"{backend}: {n_communities:,} communities, {n_logged:,} logged contacts")
        own = read(lambda s: registry.search_communities(session=s, liaison=staff[1]))()
        print(f"  (a liaison has {own['total']} communities)")
        for label, work in cases.items():
            work()  # warm
            p50, p95 = _times(work, 30)
            print(f"  {label:32s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        engine.dispose()


def main() -> None:
    """Run on each reachable backend."""
    n_communities = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_logged = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    for backend in backends():
        run(backend, n_communities, n_logged)


if __name__ == "__main__":
    main()
