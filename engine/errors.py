"""Errors that the command line turns into exit statuses (CLI.md)."""

from __future__ import annotations


class InputError(Exception):
    """The input was refused (exit 2): every problem is listed, nothing was changed."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(InputError):
    """Something named on the command line does not exist (exit 2)."""
