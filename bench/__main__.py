"""`python -m bench`: run every benchmark and print their reports."""

import runpy
import sys

BENCHMARKS = ["bench.registry_import", "bench.preview"]

for name in sys.argv[1:] or BENCHMARKS:
    print(f"== {name}", flush=True)
    runpy.run_module(name, run_name="__main__")
