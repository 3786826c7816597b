"""Errors of the playbook domain: load problems with their position, refused incident input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a playbook file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def to_json(self) -> dict[str, object]:
        """The problem as a JSON object."""
        return {"file": self.file, "line": self.line, "column": self.column,
                "message": self.message}


class PlaybookError(Exception):
    """A playbook could not be loaded; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class IncidentInputError(ValueError):
    """An incident's input was refused; `problems` names every field that is wrong."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))
