"""The benchmark generator: deterministic, and its output is a valid registry."""

from __future__ import annotations

from pathlib import Path

from bench.generate import generate_registry, write_registry
from engine.registry.sources import read_sources
from engine.registry.validate import KnownIds, validate_import


def test_same_seed_same_registry_other_seed_other() -> None:
    """Deterministic per seed."""
    assert generate_registry(20, 3, seed=7) == generate_registry(20, 3, seed=7)
    assert generate_registry(20, 3, seed=7) != generate_registry(20, 3, seed=8)


def test_generated_registry_validates(tmp_path: Path) -> None:
    """Written as CSV (either delimiter) it imports without a single problem."""
    rows = generate_registry(300, 3, seed=1)
    assert len(rows["communities"]) == 300 and len(rows["contacts"]) == 900
    for delimiter in (",", ";"):
        folder = tmp_path / f"reg{delimiter}"
        write_registry(folder, rows, delimiter=delimiter)
        valid = validate_import(read_sources([folder]), KnownIds())
        assert valid.problems == []
        assert len(valid.tables["contacts"]) == 900
