"""Benchmarks: plain scripts run as `.venv/bin/python -m bench.NAME`, printing a small report."""
