"""Sandboxed Jinja2 expressions for `when` and `select`, guarded against a hostile author."""

from __future__ import annotations

import functools
import math
import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

MAX_EXPRESSION_LENGTH = 1000
MAX_SEQUENCE = 10_000  # longest string or list that * or + may build
MAX_INT_BITS = 512  # largest integer operand of * (keeps big-number arithmetic cheap)

_SAFE_FILTERS = (
    "abs", "attr", "bool", "capitalize", "count", "default", "d", "first", "float", "int",
    "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
    "round", "select", "selectattr", "sort", "string", "sum", "title", "trim", "unique", "upper",
)
_STR_METHODS = frozenset({
    "lower", "upper", "casefold", "startswith", "endswith", "strip", "lstrip", "rstrip",
    "split", "isdigit", "isalpha", "isalnum", "title", "capitalize", "count", "find",
})
_SEQ_METHODS = frozenset({"count", "index"})
_MAP_METHODS = frozenset({"get", "keys", "values", "items"})


class Record:
    """Plain read-only data for expressions and templates: attribute and item access only."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        # Read-only views and fresh dicts are kept as they are (no copy per community).
        if type(data) is not dict and not isinstance(data, MappingProxyType):
            data = dict(data)
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._data == other._data

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"Record({self._data!r})"


class SafeUndefined(ChainableUndefined):
    """A missing value: every comparison with it is false, membership in it is false."""

    __slots__ = ()

    # jinja2 types its operators on Undefined as raising (-> Never); these answer False instead.
    def __lt__(self, other: Any) -> bool:  # type: ignore[override]
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]

    def __contains__(self, item: Any) -> bool:
        return False


# --- the budget ------------------------------------------------------------------------------
#
# The sandbox keeps a hostile author away from Python; the budget keeps them from using all of
# the machine. Every value that an operator, filter, method call or `~` builds is measured
# (a string counts its characters, a list or mapping one per item plus what the items hold,
# shared items as often as they occur) and refused past `max_size`; the operators that
# multiply (`*`, a `join` separator) are checked before they run, so nothing oversized is ever
# built; filter calls, method calls and loop iterations count as steps; and a deadline stops
# whatever is left. Blowing the budget raises BudgetExceeded (a SecurityError), which a rule
# evaluation treats like any expression that raises (PLAYBOOK.md: a warning naming the rule).


class BudgetExceeded(SecurityError):
    """An expression or template needed more than its budget (size, steps or time)."""


@dataclass(frozen=True)
class Limits:
    """What one evaluation (or one rendering) may use."""

    max_size: int  # of any value built, in characters / items (see _size)
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
        size = _size(value, self.limits.max_size)
        if size > self.limits.max_size:
            raise BudgetExceeded(f"{what} would be larger than {self.limits.max_size} "
                                 "characters/items; the result would be too long")
        return value

    def result(self, value: Any) -> Any:
        """A built value, checked; a lazy one (map, select) is counted as it is consumed."""
        if isinstance(value, Iterator) and not isinstance(value, str | bytes):
            return _counted(value, self)
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


def _size(value: Any, limit: int) -> int:
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


def _counted(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    used = 1
    for item in items:
        budget.tick()
        used += _size(item, budget.limits.max_size)
        if used > budget.limits.max_size:
            raise BudgetExceeded(f"a sequence would be larger than {budget.limits.max_size} "
                                 "characters/items; the result would be too long")
        yield item


def _budgeted(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A filter that counts a step, checks its input and its result."""
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # context, eval context, environment

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        budget.check((*args[skip:], *kwargs.values()), f"the input of '{name}'")
        return budget.result(func(*args, **kwargs))

    return run


def _budgeted_join(func: Callable[..., Any]) -> Callable[..., Any]:
    """`join`: the separator is repeated between items, so the size is known before joining."""

    @functools.wraps(func)
    def run(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        budget = current_budget()
        budget.tick()
        items = list(budget.result(iter(value)) if not isinstance(value, str) else value)
        budget.check(d, "the separator of 'join'")
        separators = max(len(items) - 1, 0) * len(str(d))
        if _size(items, budget.limits.max_size) + separators > budget.limits.max_size:
            raise BudgetExceeded(f"'join' would build more than {budget.limits.max_size} "
                                 "characters; the result would be too long")
        return budget.result(func(eval_ctx, items, d, attribute))

    return run


def _budgeted_sum(func: Callable[..., Any]) -> Callable[..., Any]:
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


def _counted_loop(value: Any) -> Iterator[Any]:
    """Every iteration of a template's `for` loop is a step."""
    budget = current_budget()
    for item in value:
        budget.tick()
        yield item


def _bounded_concat(parts: Iterable[str]) -> str:
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


class _BudgetedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` so that the joined text is measured like any built value."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """`~`: join as Jinja does, then check the size."""
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class BudgetedTemplate(Template):
    """A message template: every rendering runs under the template budget."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render under a fresh template budget."""
        with BudgetScope(Budget(TEMPLATE_LIMITS)):
            return super().render(*args, **kwargs)


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _guard_multiply(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if _sized(seq) and isinstance(count, int) and not isinstance(count, bool):
            times = max(count, 0)
            if len(seq) * times > MAX_SEQUENCE:
                raise SecurityError("the result would be too long")
            limit = current_budget().limits.max_size
            if times and _size(seq, limit) * times > limit:
                raise BudgetExceeded(f"the result would be larger than {limit} "
                                     "characters/items; the result would be too long")
            return seq * count
    for number in (left, right):
        if isinstance(number, int) and abs(number).bit_length() > MAX_INT_BITS:
            raise SecurityError("number too large")
    return left * right


def _guard_add(left: Any, right: Any) -> Any:
    if _sized(left) and _sized(right):
        if len(left) + len(right) > MAX_SEQUENCE:
            raise SecurityError("the result would be too long")
        return current_budget().check(left + right, "the result")
    return left + right


def _guard_modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SecurityError("string formatting with % is not allowed")
    return left % right


def _refuse_power(left: Any, right: Any) -> Any:
    raise SecurityError("the power operator ** is not allowed")


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": _refuse_power,
    "*": _guard_multiply,
    "+": _guard_add,
    "%": _guard_modulo,
    "/": operator.truediv,
    "//": operator.floordiv,
    "-": operator.sub,
}


class GuardedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with size guards, no power operator and a short list of allowed methods."""

    intercepted_binops = frozenset(_BINOPS)
    code_generator_class = _BudgetedCodeGenerator
    template_class = BudgetedTemplate

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply a binary operator under the guards."""
        current_budget().tick()
        return _BINOPS[operator](left, right)

    def checked_concat(self, joined: str) -> str:
        """The text `a ~ b` built, within the budget."""
        budget = current_budget()
        budget.tick()
        checked: str = budget.check(joined, "the text")
        return checked

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse a template; each `for` loop iterates through a step counter."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_counted_loop", [], [], None, None,
                                     lineno=loop.iter.lineno)
        return tree

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Plain-data records answer from their data (fast path); everything else as sandboxed."""
        if type(obj) is Record:
            data = obj._data
            try:
                return data[attribute]
            except (KeyError, TypeError):
                if attribute in _MAP_METHODS:  # read-only lookups: attributes.get("faith")
                    return getattr(MappingProxyType(data), attribute)
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """As getattr: records answer from their data."""
        if type(obj) is Record:
            try:
                return obj._data[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Our own helpers are called directly (fast path); everything else as sandboxed."""
        if __obj is within or __obj is distance_km:
            return __obj(*args, **kwargs)
        budget = current_budget()
        budget.tick()
        return budget.result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> None:
        """No str.format / format_map at all: a width like {:999999999} allocates unbounded."""
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Data attributes as the sandbox allows; of methods only a few harmless ones."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if not callable(value) or isinstance(value, Record):
            return True
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, list | tuple):
            return attr in _SEQ_METHODS
        if isinstance(obj, Mapping):
            return attr in _MAP_METHODS
        return False


# --- areas and distances ---------------------------------------------------------------------

_CBS = re.compile(r"^(?:GM|WK|BU)(\d+)$", re.IGNORECASE)


def _area_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, Record) and "area" in value:
        area = value["area"]
        return area if isinstance(area, str) and area else None
    return None


def within(a: Any, b: Any) -> bool:
    """True when area `a` lies in area `b` (equal, free code below `b/`, or CBS digits prefix)."""
    area, outer = _area_of(a), _area_of(b)
    if area is None or outer is None:
        return False
    if area == outer or area.startswith(outer + "/"):
        return True
    inner_cbs, outer_cbs = _CBS.match(area), _CBS.match(outer)
    if inner_cbs and outer_cbs:
        return inner_cbs.group(1).startswith(outer_cbs.group(1))
    return False


def _point(thing: Any) -> tuple[float, float] | None:
    try:
        lat, lon = thing["lat"], thing["lon"]
    except (TypeError, KeyError, IndexError):
        lat = getattr(thing, "lat", None)
        lon = getattr(thing, "lon", None)
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return float(lat), float(lon)


def distance_km(x: Any, y: Any) -> float | None:
    """Great-circle distance in km between two things with `lat`/`lon`; None when one lacks."""
    p, q = _point(x), _point(y)
    if p is None or q is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*p, *q))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def make_environment(autoescape: bool = False) -> GuardedSandbox:
    """A guarded sandbox with only the safe filters and the area helpers as globals."""
    env = GuardedSandbox(undefined=SafeUndefined, autoescape=autoescape)
    special: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
        "join": _budgeted_join, "sum": _budgeted_sum}
    env.filters = {
        name: special[name](env.filters[name]) if name in special
        else _budgeted(env.filters[name], name)
        for name in _SAFE_FILTERS if name in env.filters
    }
    env.filters["e"] = env.filters["escape"] = _budgeted(escape, "escape")
    env.filters["_counted_loop"] = _counted_loop
    env.concat = _bounded_concat  # type: ignore[method-assign]
    env.globals = {"within": within, "distance_km": distance_km}
    return env


_ENV = make_environment()
TEXT_ENV = make_environment()  # message texts: SMS, subject, plain body (never escaped)
HTML_ENV = make_environment(autoescape=True)  # HTML bodies
for _env in (TEXT_ENV, HTML_ENV):
    _env.trim_blocks = _env.lstrip_blocks = True  # block tags on their own line leave no gap


@lru_cache(maxsize=2048)
def compile_template(source: str, html: bool = False) -> Any:
    """A message text compiled once per process (syntax was checked when the playbook loaded)."""
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


class ExpressionError(ValueError):
    """An expression does not compile; `line` is 1-based within the expression source."""

    def __init__(self, message: str, line: int = 1) -> None:
        self.line = line
        super().__init__(message)


class Expression:
    """A compiled expression: evaluate once, or many times with fast name binding."""

    __slots__ = ("_render", "_template", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > MAX_EXPRESSION_LENGTH:
            raise ExpressionError(
                f"expression is {len(source)} characters long; at most {MAX_EXPRESSION_LENGTH}"
            )
        if not source.strip():
            raise ExpressionError("empty expression")
        try:
            template = _ENV.compile_expression(source, undefined_to_none=False)
        except TemplateSyntaxError as exc:
            raise ExpressionError(f"syntax error: {exc.message}", exc.lineno or 1) from None
        except (RecursionError, MemoryError):
            raise ExpressionError("expression is nested too deeply") from None
        except Exception as exc:  # the compiler may refuse odd input in other ways
            raise ExpressionError(f"does not compile: {exc}") from None
        self._template = template._template
        self._render = self._template.root_render_func

    def evaluate(self, **names: Any) -> Any:
        """Evaluate with the given names (plain data only)."""
        return self.binder(names)(None, None)

    def binder(self, fixed: Mapping[str, Any]) -> Callable[[str | None, Any], Any]:
        """A fast evaluator: fixed names bound once, one varying name set per call."""
        context = self._template.new_context(dict(fixed))
        render, variables = self._render, context.vars
        scope = BudgetScope(Budget(EXPRESSION_LIMITS))

        def run(name: str | None, value: Any) -> Any:
            if name is not None:
                variables[name] = value
            with scope:
                for _ in render(context):
                    pass
            return variables["result"]

        return run


def is_true(value: Any) -> bool:
    """Truth of an expression result; undefined is false."""
    return bool(value)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile an expression once per process (raises ExpressionError with a clear message)."""
    return Expression(source)


__all__ = [
    "EXPRESSION_LIMITS", "MAX_EXPRESSION_LENGTH", "TEMPLATE_LIMITS", "Budget", "BudgetExceeded",
    "BudgetScope", "Expression", "ExpressionError", "GuardedSandbox", "Limits", "Record",
    "SafeUndefined", "compile_expression", "current_budget", "distance_km", "is_true",
    "make_environment", "within",
]
