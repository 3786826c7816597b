"""Benchmark: declare an incident that reaches 2,000 contacts through the real `twilio` client
against the fake Twilio, on SQLite and PostgreSQL.

Run: `.venv/bin/python -m bench.outreach [--quick] [--backend sqlite|postgresql|all]
[--concurrency 8,16,32] [--runs 20] [--contacts 2000] [--repeat 3] [--profile]`.

Figures:
- declaration → first message accepted by the fake: p50 over `--runs` small incidents (25
  contacts each, distinct numbers), and for the big incident;
- declaration → all accepted, and throughput, against a plain loop of
  `Client.messages.create` in a ThreadPoolExecutor of the same concurrency against the same fake;
  and against that loop with a connection kept per thread, as the engine's SMS channel keeps
  (the library keeps 10 for http, so above 10 threads the plain loop opens connections anew).

The engine path is what `verbinder incident declare` does: the `declare_incident_flow`
transaction, then `Worker(ctx).run_cycle()` in the same process. The fake runs in a child
process so that its request checking does not take the benchmarked interpreter's lock.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bench.generate import write_registry
from bench.support import (
    FakeTwilioProcess,
    backends,
    bench_registry,
    make_context,
    median,
    phone_e164,
    print_table,
    throwaway_store,
    twilio_settings,
    write_playbook,
)
from engine.clock import FakeClock
from engine.incidents.flows import declare_incident_flow
from engine.registry.importer import import_registry
from engine.registry.snapshot import load_snapshot
from engine.store.db import session_scope
from engine.wiring import STATUS_PATH, AppContext, build_worker
from playbook.loader import load_playbook
from playbook.model import IncidentInput

GROUP_SIZE = 25
BODY = "Gemeente Benchstad: Bench 0. Wij willen u spreken. Antwoord OK."  # as the engine renders


@dataclass
class Run:
    """One declaration: wall times in seconds from the start of the declaration."""

    declare: float
    first: float
    last: float
    cycle: float
    count: int
    sent: dict[str, int] | None


def declare_and_send(ctx: AppContext, playbook: Any, fake: FakeTwilioProcess, group: str,
                     expected: int, n: int) -> Run:
    """Declare an incident for `group`, run one worker cycle, and read the fake's stamps."""
    fake.reset()
    start = time.time()
    incident = IncidentInput(type="bench", declared_at=ctx.clock.now(), title=f"Bench {n}",
                             fields={"group": group})
    with session_scope(ctx.engine) as session:
        declare_incident_flow(session, playbook=playbook, incident=incident,
                              snapshot=load_snapshot(session.connection()), now=ctx.clock.now())
    declared = time.time()
    result = build_worker(ctx, name=f"bench-{n}").run_cycle()
    done = time.time()
    stamps = fake.wait_for(expected, timeout=30)
    times = [t for _, t in stamps]
    return Run(declare=declared - start, first=min(times) - start if times else float("nan"),
               last=max(times) - start if times else float("nan"), cycle=done - declared,
               count=len(stamps), sent=result.sent)


def prepared_context(url: str, fake: FakeTwilioProcess, rows: Any, folder: Path,
                     concurrency: int) -> AppContext:
    """A context on a fresh store with the registry imported and every lazy part built."""
    write_registry(folder / "registry", rows)
    ctx = make_context(url, **twilio_settings(fake, concurrency))
    import_registry(ctx.engine, [folder / "registry"], clock=FakeClock(ctx.clock.now()))
    _ = ctx.channels, ctx.links, ctx.dispatch_policy  # built once, as in a running process
    return ctx


def latency_runs(backend: str, fake: FakeTwilioProcess, playbook: Any, runs: int,
                 concurrency: int) -> list[Run]:
    """`runs` small incidents on one store, each reaching its own GROUP_SIZE numbers."""
    rows = bench_registry(runs * GROUP_SIZE, groups=runs)
    with throwaway_store(backend) as url, tempfile.TemporaryDirectory() as tmp:
        ctx = prepared_context(url, fake, rows, Path(tmp), concurrency)
        try:
            return [declare_and_send(ctx, playbook, fake, f"g{i + 1:02d}", GROUP_SIZE, i)
                    for i in range(runs)]
        finally:
            ctx.engine.dispose()


def big_run(backend: str, fake: FakeTwilioProcess, playbook: Any, contacts: int,
            concurrency: int, profile: bool) -> Run:
    """One incident reaching `contacts` numbers, on a fresh store."""
    rows = bench_registry(contacts)
    with throwaway_store(backend) as url, tempfile.TemporaryDirectory() as tmp:
        ctx = prepared_context(url, fake, rows, Path(tmp), concurrency)
        profiler = cProfile.Profile() if profile else None
        try:
            if profiler:
                profiler.enable()
            run = declare_and_send(ctx, playbook, fake, "all", contacts, 0)
        finally:
            if profiler:
                profiler.disable()
            ctx.engine.dispose()
    if profiler:
        print(f"\n  cProfile of the main thread, {backend}, concurrency {concurrency} "
              "(senders run in pool threads, not shown):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return run


class RoutedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, with api.twilio.com replaced by the fake's address; with
    `connections`, keeping that many connections open (as the engine's channel does)."""

    def __init__(self, base_url: str, connections: int | None = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        if connections and self.session is not None:
            self.session.mount("http://", HTTPAdapter(pool_maxsize=connections))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Send to the fake instead of Twilio."""
        return super().request(method, url.replace("https://api.twilio.com", self.base_url, 1),
                               *args, **kwargs)


def plain_loop(fake: FakeTwilioProcess, count: int, concurrency: int,
               sized: bool = False) -> float:
    """Seconds for `count` Client.messages.create calls in a pool of `concurrency` threads;
    `sized`: with a connection kept per thread (the library keeps 10 for http)."""
    env = fake.environment
    client = Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"],
                    http_client=RoutedHttpClient(fake.url, concurrency if sized else None))
    callback = f"https://verbinder.example.org{STATUS_PATH}"

    def create(i: int) -> None:
        client.messages.create(to=phone_e164(i), body=BODY, status_callback=f"{callback}?ref=m{i}",
                               messaging_service_sid=env["TWILIO_MESSAGING_SERVICE_SID"],
                               validity_period=3600)

    create(count)  # one warm-up call, as the engine's channel is built before timing
    fake.reset()
    start = time.time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.time() - start
    taken = fake.wait_for(count, timeout=10)
    if len(taken) != count:
        raise RuntimeError(f"plain loop: the fake took {len(taken)} of {count}")
    return elapsed


def outcomes(sent: dict[str, int] | None) -> str:
    """The cycle's send outcomes other than accepted (e.g. `retry=3`), or `-`."""
    others = {k: v for k, v in (sent or {}).items() if k != "accepted"}
    return ",".join(f"{k}={v}" for k, v in sorted(others.items())) or "-"


def ms(seconds: float) -> float:
    """Seconds as milliseconds."""
    return seconds * 1000


def report_latency(backend: str, runs: list[Run]) -> list[Any]:
    """One table row: medians over the small runs."""
    complete = [r for r in runs if r.count == GROUP_SIZE]
    return [backend, f"{len(complete)}/{len(runs)}", ms(median([r.declare for r in runs])),
            ms(median([r.first for r in runs])), ms(max(r.first for r in runs)),
            ms(median([r.last for r in runs]))]


def big_row(backend: str, concurrency: int, contacts: int,
            trials: list[tuple[Run, float, float]]) -> list[Any]:
    """One table row: the median trial by end-to-end ratio, and the spread of that ratio."""
    ratios = sorted((run.count / run.last / loop, n) for n, (run, loop, _) in enumerate(trials))
    run, loop_rate, sized_rate = trials[ratios[len(ratios) // 2][1]]
    engine_rate = run.count / run.last
    send_rate = run.count / max(run.last - run.first, 1e-9)
    spread = f"{ratios[0][0]:.2f}–{ratios[-1][0]:.2f}"
    return [backend, concurrency, f"{run.count}/{contacts}", ms(run.declare), ms(run.first),
            run.last, engine_rate, send_rate, loop_rate, f"{engine_rate / loop_rate:.2f}",
            spread, f"{send_rate / loop_rate:.2f}", f"{engine_rate / sized_rate:.2f}",
            outcomes(run.sent)]


def main() -> None:
    """Parse options, run every backend and concurrency, print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.outreach")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgresql", "all"])
    parser.add_argument("--concurrency", default=None, help="comma-separated, default 8,16,32")
    parser.add_argument("--runs", type=int, default=None, help="small incidents for latency")
    parser.add_argument("--contacts", type=int, default=None, help="size of the big incident")
    parser.add_argument("--profile", action="store_true", help="cProfile the big declaration")
    parser.add_argument("--repeat", type=int, default=None,
                        help="big runs per backend, each after its own plain loop (median shown)")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    runs = args.runs or (3 if args.quick else 20)
    contacts = args.contacts or (200 if args.quick else 2000)
    levels = [int(c) for c in (args.concurrency or ("8" if args.quick else "8,16,32")).split(",")]

    with tempfile.TemporaryDirectory() as tmp, FakeTwilioProcess() as fake:
        playbook = load_playbook(write_playbook(Path(tmp)))
        chosen = backends(args.backend)
        print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; the fake "
              "Twilio runs in its own process")
        print(f"\noutreach: declaration → first SMS accepted by the fake, {runs} incidents of "
              f"{GROUP_SIZE} contacts (concurrency {levels[0]})")
        table = [report_latency(b, latency_runs(b, fake, playbook, runs, levels[0]))
                 for b in chosen]
        print_table(["backend", "complete", "declare ms p50", "first ms p50", "first ms max",
                     "all ms p50"], table)

        print(f"\noutreach: one incident reaching {contacts} contacts; plain loop = "
              "Client.messages.create in a ThreadPoolExecutor of the same size; median of "
              f"{repeat} turns (loop, then engine), each ratio against its own turn's loop; "
              "sized loop = the same with a connection kept per thread, as the engine's channel")
        rows = []
        for c in levels:
            trials: dict[str, list[tuple[Run, float, float]]] = {b: [] for b in chosen}
            for _ in range(repeat):  # the loops and the engine in turns: drift hits all alike
                loop_rate = contacts / plain_loop(fake, contacts, c)
                sized_rate = contacts / plain_loop(fake, contacts, c, sized=True)
                for b in chosen:
                    trials[b].append((big_run(b, fake, playbook, contacts, c, args.profile),
                                      loop_rate, sized_rate))
            for b in chosen:
                rows.append(big_row(b, c, contacts, trials[b]))
        print_table(["backend", "conc", "accepted", "declare ms", "first ms", "all s",
                     "msg/s e2e", "msg/s send", "msg/s loop", "ratio e2e", "e2e range",
                     "ratio send", "ratio e2e/sized loop", "outcomes"], rows)
        invalid, internal = fake.problems()
        print(f"\n  requests breaking Twilio's description: {invalid}; fake errors: {internal}")


if __name__ == "__main__":
    main()
