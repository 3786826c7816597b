"""Benchmark: the audit log. What one append costs a transaction, and how long `audit verify`
takes over a long chain, with its peak memory (it streams: memory stays flat).

`python -m bench.audit [--rows N] [--backend sqlite|postgresql|all]`
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from bench.support import backends, print_table, throwaway_store
from engine.audit.log import append, verify
from engine.store.db import make_engine, migrate, session_scope

BATCH = 500  # appends per transaction while filling the chain


def fill(engine, rows: int) -> float:  # type: ignore[no-untyped-def]
    """Append `rows` entries, BATCH per transaction; seconds."""
    started = time.perf_counter()
    for start in range(0, rows, BATCH):
        with session_scope(engine) as session:
            for i in range(start, min(rows, start + BATCH)):
                append(session, actor="staff:bench", action="bench.step",
                       object=f"incident:{i % 97}", details={"i": i, "via": "bench"})
    return time.perf_counter() - started


def single_appends(engine, n: int = 200) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds per transaction that holds one append (and nothing else)."""
    started = time.perf_counter()
    for i in range(n):
        with session_scope(engine) as session:
            append(session, action="bench.single", object=f"n:{i}")
    return (time.perf_counter() - started) * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", default="all")
    args = parser.parse_args()
    table = []
    for backend in backends(args.backend):
        with throwaway_store(backend) as url:
            engine = make_engine(url)
            migrate(engine)
            filled = fill(engine, args.rows)
            per_append = single_appends(engine)
            started = time.perf_counter()
            report = verify(engine)
            took = time.perf_counter() - started
            tracemalloc.start()  # a second walk, traced (tracing slows it down)
            verify(engine)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            assert report.ok and report.rows == args.rows + 200
            table.append([backend, report.rows, filled, per_append, took, peak])
            engine.dispose()
    print_table(["backend", "rows", "fill s", "1-append txn ms", "verify s", "verify peak MiB"],
                table)


if __name__ == "__main__":
    main()
