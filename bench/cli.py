"""Benchmark: the `verbinder` command end to end, each run a fresh process (as a person types it).

Run: `.venv/bin/python -m bench.cli [--runs N] [--communities N]`. Two parts:

  start-up    `--help` (the app's and a command's) and the commands that need no database
              (`playbook check`, `incident types`): the budget is 0.3 s each; the playbook
              commands also without the compiled-code cache (playbook/codecache.py), which
              the first, uncounted run fills otherwise (in a temporary cache folder)
  preview     `incident preview` over a generated registry (10,000 communities, three contacts
              each; terrorist_attack/jihadist matches about 4,700): `--json`, the text form
              (summary by role and the first 50 rows) and `--all` (every row); budget 1 s

Each figure is the median of N runs (default 7) of wall time and of CPU time (user + system
of the child, from getrusage): on a machine shared with other work the CPU time is what the
command costs, the wall time what a person waited. Writes nothing into the repo.

The commands run with Python's bytecode cache, as an installed `verbinder` does (pip compiles
the package at install; an editable install writes `__pycache__` on the first run): the
cache lives in the temporary folder (PYTHONPYCACHEPREFIX), filled by the uncounted first run,
even where PYTHONDONTWRITEBYTECODE is set. `--no-bytecode` keeps that setting, and then every
run compiles Verbinder's own modules again (about 0.04 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VERBINDER = [sys.executable, "-m", "engine.cli"]
BUDGET_START = 0.3
BUDGET_PREVIEW = 1.0
PREVIEW = ["incident", "preview", "--type", "terrorist_attack", "--field", "motive=jihadist",
           "--at", "2026-03-01T09:00:00Z"]
STARTUP = [
    ["--help"],
    ["incident", "--help"],
    ["incident", "preview", "--help"],
    ["registry", "--help"],
    ["playbook", "check"],
    ["incident", "types"],
]


@dataclass(frozen=True)
class Timing:
    """Medians of a command's runs."""

    wall: float
    cpu: float
    output_bytes: int


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run in a fresh process, and the size of its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*VERBINDER, *args], env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"verbinder {' '.join(args)} exited {done.returncode}:\n"
                         f"{done.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(done.stdout)


def measure(args: list[str], env: dict[str, str], runs: int) -> Timing:
    """Median wall and CPU time over `runs` runs (one warm-up run first, not counted)."""
    run_once(args, env)
    results = [run_once(args, env) for _ in range(runs)]
    return Timing(statistics.median(r[0] for r in results),
                  statistics.median(r[1] for r in results), results[-1][2])


def line(label: str, timing: Timing, budget: float) -> str:
    """One row of the report."""
    verdict = "ok" if timing.wall <= budget else ("ok (cpu)" if timing.cpu <= budget else "OVER")
    return (f"{label:<44} {timing.wall:>7.3f}s {timing.cpu:>7.3f}s "
            f"{timing.output_bytes:>10,} {budget:>6.1f}s  {verdict}")


def header() -> str:
    """The report's column heads."""
    return f"{'command':<44} {'wall':>8} {'cpu':>8} {'stdout B':>10} {'budget':>7}"


def main() -> None:
    """Print the two reports."""
    parser = argparse.ArgumentParser(prog="python -m bench.cli")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--communities", type=int, default=10_000)
    parser.add_argument("--part", choices=("all", "start-up", "preview"), default="all")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE (compile the sources every run)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "VERBINDER_DATABASE_URL": f"sqlite:///{Path(tmp) / 'none.db'}",
               "VERBINDER_CONSOLE_DIR": tmp, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        if not options.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(f"bytecode cache: {'off' if options.no_bytecode else 'on (in a temporary folder)'}")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (before)")
        if options.part != "preview":
            startup(env, options.runs)
        if options.part != "start-up":
            preview(env, tmp, options.communities, options.runs)
        if (Path(tmp) / "none.db").exists():
            raise SystemExit("a start-up command created a database")


def startup(env: dict[str, str], runs: int) -> None:
    """The commands that need no database."""
    print(f"\nverbinder start-up, fresh process each run, median of {runs}")
    print(header())
    for args in STARTUP:
        print(line(" ".join(args), measure(args, env, runs), BUDGET_START), flush=True)
    cold = {**env, "VERBINDER_CODE_CACHE": "off"}
    for args in (["playbook", "check"], ["incident", "types"]):
        print(line(" ".join(args) + " (no code cache)", measure(args, cold, runs), BUDGET_START),
              flush=True)


def preview(env: dict[str, str], tmp: str, communities: int, runs: int) -> None:
    """Preview over a generated registry."""
    from bench.preview import fill  # the store is loaded only for this part

    url = f"sqlite:///{Path(tmp) / 'preview.db'}"
    fill(url, communities)
    env = {**env, "VERBINDER_DATABASE_URL": url}
    print(f"\nincident preview over {communities:,} communities (3 contacts "
          f"each), fresh process each run, median of {runs}")
    print(header())
    for label, extra in (("preview --json", ["--json"]), ("preview (text)", []),
                         ("preview --all (text, every row)", ["--all"])):
        print(line(label, measure([*PREVIEW, *extra], env, runs), BUDGET_PREVIEW), flush=True)


if __name__ == "__main__":
    main()
