"""`python -m bench`: run every benchmark and print their reports."""

import runpy
import sys

BENCHMARKS = ["bench.registry_import", "bench.preview", "bench.outreach", "bench.timers",
              "bench.export", "bench.audit", "bench.cli", "bench.registry_pages",
              "bench.board"]

for name in sys.argv[1:] or BENCHMARKS:
    print(f"== {name}", flush=True)
    sys.argv = [name]  # each benchmark reads its own options; run them with their defaults
    runpy.run_module(name, run_name="__main__")
