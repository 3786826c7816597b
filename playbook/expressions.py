"""Sandboxed Jinja2 expressions for `when` and `select`, guarded against a hostile author."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

MAX_EXPRESSION_LENGTH = 1000
MAX_SEQUENCE = 10_000  # longest string or list an expression may build
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

    def __lt__(self, other: Any) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __contains__(self, item: Any) -> bool:
        return False


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _guard_multiply(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if _sized(seq) and isinstance(count, int):
            if len(seq) * max(count, 0) > MAX_SEQUENCE:
                raise SecurityError("the result would be too long")
            return seq * count
    for number in (left, right):
        if isinstance(number, int) and abs(number).bit_length() > MAX_INT_BITS:
            raise SecurityError("number too large")
    return left * right


def _guard_add(left: Any, right: Any) -> Any:
    if _sized(left) and _sized(right) and len(left) + len(right) > MAX_SEQUENCE:
        raise SecurityError("the result would be too long")
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

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply a binary operator under the guards."""
        return _BINOPS[operator](left, right)

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
        return super().call(__context, __obj, *args, **kwargs)

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
    env.filters = {name: env.filters[name] for name in _SAFE_FILTERS if name in env.filters}
    env.filters["e"] = env.filters["escape"] = escape
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

        def run(name: str | None, value: Any) -> Any:
            if name is not None:
                variables[name] = value
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
    "MAX_EXPRESSION_LENGTH", "Expression", "ExpressionError", "GuardedSandbox", "Record",
    "SafeUndefined", "compile_expression", "distance_km", "is_true", "make_environment",
    "within",
]
