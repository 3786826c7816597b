"""The budget of expressions and templates: what one evaluation or rendering may use.

The sandbox keeps a hostile author away from Python; the budget keeps them from using all of
the machine. Every value that an operator, filter, method call or `~` builds is measured
(a string counts its characters, a list or mapping one per item plus what the items hold,
shared items as often as they occur) and refused past `max_size`; the operators that
multiply (`*`, a `join` separator) are checked before they run, so nothing oversized is ever
built; filter calls, method calls and loop iterations count as steps; and a deadline stops
whatever is left. Blowing the budget raises BudgetExceeded (a SecurityError), which a rule
evaluation treats like any expression that raises (PLAYBOOK.md: a warning naming the rule).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter

from playbook.records import Record


class BudgetExceeded(SecurityError):
    """An expression or template needed more than its budget (size, steps or time)."""


@dataclass(frozen=True)
class Limits:
    """What one evaluation (or one rendering) may use."""

    max_size: int  # of any value built, in characters / items (see size_of)
    max_steps: int  # filter and method calls, operators, loop iterations
    seconds: float  # wall-clock backstop
    max_output: int  # characters a template renders
    max_total_steps: int = 0  # over all evaluations of one rule in one checklist (0: none)


# A rule is evaluated once per community: what one evaluation may use is small, and what all
# of them together may use is bounded too (a legitimate rule takes a few steps per community).
EXPRESSION_LIMITS = Limits(max_size=100_000, max_steps=10_000, seconds=1.0, max_output=0,
                           max_total_steps=2_000_000)
TEMPLATE_LIMITS = Limits(max_size=1_000_000, max_steps=1_000_000, seconds=2.0,
                         max_output=1_000_000)


class Budget:
    """What is left of the limits in the evaluation that runs on this thread."""

    __slots__ = ("deadline", "limits", "steps", "total")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.total = 0
        self.deadline = 0.0

    def start(self) -> None:
        """Begin an evaluation: no steps used, the clock running."""
        self.steps = 0
        self.deadline = time.monotonic() + self.limits.seconds

    def tick(self, steps: int = 1) -> None:
        """Count steps; raise when the steps or the time are used up."""
        self.steps += steps
        self.total += steps
        if self.steps > self.limits.max_steps:
            raise BudgetExceeded(f"more than {self.limits.max_steps} steps "
                                 "(filters, calls, loop iterations)")
        if self.limits.max_total_steps and self.total > self.limits.max_total_steps:
            raise BudgetExceeded(f"more than {self.limits.max_total_steps} steps over all "
                                 "communities")
        if not self.steps & 0xFF and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"took longer than {self.limits.seconds:g} s")

    def check(self, value: Any, what: str = "a value") -> Any:
        """Return the value when its size is within the limit, else raise."""
        size = size_of(value, self.limits.max_size)
        if size > self.limits.max_size:
            raise BudgetExceeded(f"{what} would be larger than {self.limits.max_size} "
                                 "characters/items; the result would be too long")
        return value

    def result(self, value: Any) -> Any:
        """A built value, checked; a lazy one (map, select) is counted as it is consumed."""
        if isinstance(value, Iterator) and not isinstance(value, str | bytes):
            return counted(value, self)
        return self.check(value, "the result")


class _Unscoped(Budget):
    """Outside any evaluation (no entry point of ours set a budget): sizes are still checked,
    steps are not counted, as no evaluation would ever start them again."""

    __slots__ = ()

    def tick(self, steps: int = 1) -> None:
        """Count nothing."""


_NOT_IN_AN_EVALUATION = _Unscoped(TEMPLATE_LIMITS)
_state = threading.local()


def current_budget() -> Budget:
    """The budget of the evaluation running on this thread."""
    return getattr(_state, "budget", None) or _NOT_IN_AN_EVALUATION


class BudgetScope:
    """Run an evaluation under a budget (nested scopes restore the outer one)."""

    __slots__ = ("budget", "outer")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __enter__(self) -> Budget:
        self.outer = getattr(_state, "budget", None)
        self.budget.start()
        _state.budget = self.budget
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _state.budget = self.outer


def size_of(value: Any, limit: int) -> int:
    """Characters and items in a value, counting shared items each time; stops past `limit`.

    Each item is counted when its container is opened, so the work done (and the list of
    items still to open) never exceeds `limit`, however deeply a value shares its parts.
    """
    total = 1
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, Record):
            total += len(item._data)
            if total <= limit:
                pending.extend(item._data.values())
        elif isinstance(item, Mapping):
            total += 2 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        if total > limit:
            return total
    return total


def counted(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    used = 1
    for item in items:
        budget.tick()
        used += size_of(item, budget.limits.max_size)
        if used > budget.limits.max_size:
            raise BudgetExceeded(f"a sequence would be larger than {budget.limits.max_size} "
                                 "characters/items; the result would be too long")
        yield item


def budgeted(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A filter that counts a step, checks its input and its result."""
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # context, eval context, environment

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        budget.check((*args[skip:], *kwargs.values()), f"the input of '{name}'")
        return budget.result(func(*args, **kwargs))

    return run


def budgeted_join(func: Callable[..., Any]) -> Callable[..., Any]:
    """`join`: the separator is repeated between items, so the size is known before joining."""

    @functools.wraps(func)
    def run(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        budget = current_budget()
        budget.tick()
        items = list(budget.result(iter(value)) if not isinstance(value, str) else value)
        budget.check(d, "the separator of 'join'")
        separators = max(len(items) - 1, 0) * len(str(d))
        if size_of(items, budget.limits.max_size) + separators > budget.limits.max_size:
            raise BudgetExceeded(f"'join' would build more than {budget.limits.max_size} "
                                 "characters; the result would be too long")
        return budget.result(func(eval_ctx, items, d, attribute))

    return run


def budgeted_sum(func: Callable[..., Any]) -> Callable[..., Any]:
    """`sum`: numbers as Jinja does; lists added one after another, in linear time."""

    @functools.wraps(func)
    def run(environment: Any, iterable: Iterable[Any], attribute: Any = None,
            start: Any = 0) -> Any:
        budget = current_budget()
        budget.tick()
        if not isinstance(start, list | tuple):
            return budget.result(func(environment, budget.result(iter(iterable)), attribute,
                                      start))
        if attribute is not None:
            iterable = map(make_attrgetter(environment, attribute), iterable)
        out = list(start)
        for part in budget.result(iter(iterable)):
            if not isinstance(part, list | tuple):
                raise TypeError(f"can only add a list to a list (not {type(part).__name__})")
            out.extend(part)
        return budget.result(out if isinstance(start, list) else tuple(out))

    return run


def counted_loop(value: Any) -> Iterator[Any]:
    """Every iteration of a template's `for` loop is a step."""
    budget = current_budget()
    for item in value:
        budget.tick()
        yield item


def bounded_concat(parts: Iterable[str]) -> str:
    """A template's output, refused once it grows past the output limit."""
    budget = current_budget()
    limit = budget.limits.max_output or budget.limits.max_size
    out: list[str] = []
    used = 0
    for part in parts:
        used += len(part)
        if used > limit:
            raise BudgetExceeded(f"the text would be longer than {limit} characters")
        out.append(part)
    return "".join(out)
