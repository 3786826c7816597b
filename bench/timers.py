"""Benchmark: 10,000 pending timers across 500 incidents, fired by a real `Worker.start()`.

Run: `.venv/bin/python -m bench.timers [--quick] [--backend sqlite|postgresql|all]
[--timers 10000] [--incidents 500] [--span 60]`.

Figures, per backend:
- delay from a timer's due time to its message handed to the channel (p50, p99, max), with
  due times spread over `--span` seconds of real time; the worker runs in its own process with
  APScheduler wake-ups and heartbeat, and a channel that records when `send` is called;
- restart to first fire: with the worker stopped and as many timers overdue, a new worker
  process is started; time until its first message reaches the channel (from process start and
  from `Worker.start()`), and until all overdue messages did;
- peak RSS of each worker process.

Timers are made by the real `declare_incident_flow` (one `0m primary` step per community), then
their due times are set as rows, as the brief allows, to get exact due times.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bench.generate import write_registry
from bench.support import (
    CountingNotifier,
    backends,
    bench_registry,
    make_context,
    percentile,
    print_table,
    throwaway_store,
    write_playbook,
)
from engine.clock import FakeClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.importer import import_registry
from engine.registry.snapshot import RegistrySnapshot, load_snapshot
from engine.store.db import session_scope
from engine.store.models import Message, Timer
from playbook.loader import load_playbook
from playbook.model import IncidentInput

FAR = timedelta(days=1)
START_MARGIN = 6.0  # seconds for the worker process to start before the first timer is due


# --- setup (in this process) -------------------------------------------------------------------


def declare_groups(url: str, playbook: Any, groups: list[str]) -> list[int]:
    """Declare one incident per group (20 communities each), its timers parked a day ahead."""
    ctx = make_context(url)
    ids = []
    try:
        with session_scope(ctx.engine) as session:
            full = load_snapshot(session.connection())
        by_group = _split(full)
        for group in groups:
            now = ctx.clock.now()
            incident = IncidentInput(type="bench", declared_at=now, title=f"Bench {group}",
                                     fields={"group": group})
            with session_scope(ctx.engine) as session:
                row, _ = declare_incident_flow(session, playbook=playbook, incident=incident,
                                               snapshot=by_group[group], now=now)
                session.execute(sa.update(Timer).where(Timer.incident_id == row.id)
                                .values(due_at=now + FAR))
            ids.append(row.id)
    finally:
        ctx.engine.dispose()
    return ids


def _split(snapshot: RegistrySnapshot) -> dict[str, RegistrySnapshot]:
    """The registry per bench group, so that each declaration evaluates only its group."""
    group_of = {c.id: c.attributes.get("bench_group", "") for c in snapshot.communities}
    out: dict[str, RegistrySnapshot] = {}
    for group in set(group_of.values()):
        out[group] = RegistrySnapshot(
            tuple(c for c in snapshot.communities if group_of[c.id] == group),
            tuple(p for p in snapshot.contacts if group_of.get(p.community_id) == group),
            snapshot.staff, snapshot.opted_out)
    return out


def set_due_times(url: str, incident_ids: list[int], base: datetime, span: float,
                  seed: int = 3) -> int:
    """Spread the incidents' pending timers evenly over `span` seconds from `base`, shuffled."""
    engine = make_context(url).engine
    try:
        with session_scope(engine) as session:
            ids = list(session.exec(select(Timer.id).where(Timer.incident_id.in_(incident_ids),
                                                           Timer.state == "pending")))
            random.Random(seed).shuffle(ids)
            step = span / max(1, len(ids))
            rows = [{"tid": tid, "due": base + timedelta(seconds=i * step)}
                    for i, tid in enumerate(ids)]
            table = Timer.__table__
            session.execute(sa.update(table).where(table.c.id == sa.bindparam("tid"))
                            .values(due_at=sa.bindparam("due")), rows)
    finally:
        engine.dispose()
    return len(ids)


# --- the worker (in its own process) -----------------------------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stop_worker(worker: Any) -> None:
    """Stop a started worker without `Worker.stop()`'s deadlock: APScheduler's shutdown(wait=True)
    holds its job-store lock while it waits for a running wake, and that wake's `_plan_next`
    needs the same lock for `add_job`. Shut down without waiting, then wait for the pool."""
    scheduler, worker._scheduler = worker._scheduler, None
    if scheduler is not None:
        scheduler.shutdown(wait=False)
        for executor in scheduler._executors.values():
            executor._pool.shutdown(wait=True)
    worker.stop()  # only lets go of the life lock now


def _run_worker(url: str, expected: int, timeout: float, conn: Any) -> None:
    from engine.wiring import build_worker

    counting = CountingNotifier("sms")
    ctx = make_context(url, channels={"sms": counting, "email": counting})
    _ = ctx.links, ctx.channels
    rss_ready = _rss_kib()
    started = time.time()
    worker = build_worker(ctx, name=f"bench-{os.getpid()}")
    worker.start()
    deadline = time.monotonic() + timeout
    while len(counting.calls) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    stop_worker(worker)
    ctx.engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send({"started": started, "calls": list(counting.calls), "rss_ready": rss_ready,
               "rss_peak": peak})


def run_worker_process(url: str, expected: int, timeout: float) -> dict[str, Any]:
    """Start a worker process (spawned: a fresh interpreter); return what it recorded."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    spawned = time.time()
    process = context.Process(target=_run_worker, args=(url, expected, timeout, child))
    process.start()
    while not parent.poll(0.5):
        if not process.is_alive():
            raise RuntimeError(f"the worker process ended with exit code {process.exitcode}")
    result = parent.recv()
    process.join(timeout=30)
    result["spawned"] = spawned
    return result


# --- figures -------------------------------------------------------------------------------------


def delays(url: str, calls: list[tuple[str, float]]) -> tuple[list[float], list[float]]:
    """(due → handed to channel, due → fired) in seconds, one per message sent."""
    engine = make_context(url).engine
    try:
        with session_scope(engine) as session:
            due = {(t.incident_id, t.community_id): t for t in session.exec(
                select(Timer).where(Timer.state == "fired"))}
            where = {m.id: (m.incident_id, m.community_ids[0]) for m in session.exec(
                select(Message).where(Message.step.like("esc:%")))}
    finally:
        engine.dispose()
    handed, fired = [], []
    for reference, stamp in calls:
        timer = due.get(where.get(int(reference.removeprefix("m")), (0, "")))
        if timer is None:
            continue
        handed.append(stamp - timer.due_at.timestamp())
        fired.append(timer.late_seconds or 0.0)
    return handed, fired


def steady(url: str, incident_ids: list[int], span: float, timeout: float) -> list[Any]:
    """Timers due over `span` seconds while a worker runs: the delay figures."""
    base = datetime.now(UTC) + timedelta(seconds=START_MARGIN)
    count = set_due_times(url, incident_ids, base, span)
    result = run_worker_process(url, count, timeout)
    handed, fired = delays(url, result["calls"])
    late_start = result["started"] - base.timestamp()
    note = f" (worker started {late_start:.1f} s after the first due time)" if late_start > 0 \
        else ""
    if note:
        print("  warning:" + note)
    return [f"{len(handed)}/{count}", ms(percentile(fired, 50)), ms(percentile(fired, 99)),
            ms(percentile(handed, 50)), ms(percentile(handed, 99)), ms(max(handed or [0.0])),
            mib(result["rss_peak"])]


def restart(url: str, incident_ids: list[int], timeout: float) -> list[Any]:
    """Timers overdue while no worker ran; a new worker process starts: the restart figures."""
    base = datetime.now(UTC) - timedelta(minutes=10)
    count = set_due_times(url, incident_ids, base, span=540)
    result = run_worker_process(url, count, timeout)
    stamps = sorted(t for _, t in result["calls"])
    first = stamps[0] if stamps else float("nan")
    last = stamps[-1] if stamps else float("nan")
    return [f"{len(stamps)}/{count}", first - result["spawned"], first - result["started"],
            last - result["started"], mib(result["rss_ready"]), mib(result["rss_peak"])]


def ms(seconds: float) -> float:
    """Seconds as milliseconds."""
    return seconds * 1000


def mib(kib: int) -> float:
    """KiB as MiB."""
    return kib / 1024


def run_backend(backend: str, n_timers: int, n_incidents: int, span: float,
                timeout: float) -> tuple[list[Any], list[Any]]:
    """Set up a store with two sets of incidents; measure the steady phase, then the restart."""
    rows = bench_registry(2 * n_timers, groups=2 * n_incidents)
    with throwaway_store(backend) as url, tempfile.TemporaryDirectory() as tmp:
        write_registry(Path(tmp) / "registry", rows)
        ctx = make_context(url)
        import_registry(ctx.engine, [Path(tmp) / "registry"], clock=FakeClock(ctx.clock.now()))
        ctx.engine.dispose()
        playbook = load_playbook(write_playbook(Path(tmp)))
        groups = sorted({c["bench_group"] for c in rows["communities"]})
        started = time.monotonic()
        first = declare_groups(url, playbook, groups[:n_incidents])
        second = declare_groups(url, playbook, groups[n_incidents:])
        print(f"  {backend}: declared {len(first) + len(second)} incidents in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        return ([backend, *steady(url, first, span, timeout)],
                [backend, *restart(url, second, timeout)])


def main() -> None:
    """Parse options, run each backend, print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.timers")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgresql", "all"])
    parser.add_argument("--timers", type=int, default=None)
    parser.add_argument("--incidents", type=int, default=None)
    parser.add_argument("--span", type=float, default=None, help="seconds the due times span")
    args = parser.parse_args()
    n_timers = args.timers or (1000 if args.quick else 10_000)
    n_incidents = args.incidents or (50 if args.quick else 500)
    span = args.span or (10.0 if args.quick else 60.0)
    timeout = span + START_MARGIN + 120
    print(f"\ntimers: {n_timers} timers across {n_incidents} incidents, due over {span:g} s; "
          f"a worker process with APScheduler; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    steady_rows, restart_rows = [], []
    for backend in backends(args.backend):
        a, b = run_backend(backend, n_timers, n_incidents, span, timeout)
        steady_rows.append(a)
        restart_rows.append(b)
    print("\n  due → fired (engine's late_seconds) and due → handed to the channel:")
    print_table(["backend", "sent", "fired p50 ms", "fired p99 ms", "handed p50 ms",
                 "handed p99 ms", "handed max ms", "peak RSS MiB"], steady_rows)
    print(f"\n  restart with {n_timers} overdue timers (a new worker process):")
    print_table(["backend", "sent", "spawn→first s", "start→first s", "start→all s",
                 "RSS ready MiB", "peak RSS MiB"], restart_rows)


if __name__ == "__main__":
    main()
