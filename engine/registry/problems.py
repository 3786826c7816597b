"""A refused import: every problem with file, row and column (REGISTRY.md)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; `row` counts as a spreadsheet shows it (header = 1)."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        if self.column is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.column}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The problem as a JSON-ready object."""
        return {"file": self.file, "row": self.row, "column": self.column,
                "message": self.message}


class RegistryImportError(InputError):
    """The import was refused (exit 2): every problem is listed and nothing changed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.details = list(problems)
        super().__init__([str(p) for p in self.details])
