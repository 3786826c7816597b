"""Sandboxed Jinja2 expressions for `when` and `select`, guarded against a hostile author.

The sandbox (`GuardedSandbox`) with its operator guards, the environments of expressions and
message texts, and compiled expressions. What they may use is in `playbook.budget`, the values
they see in `playbook.records`, the functions they may call in `playbook.areas`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from playbook import codecache
from playbook.areas import distance_km, within
from playbook.budget import (
    EXPRESSION_LIMITS,
    TEMPLATE_LIMITS,
    Budget,
    BudgetExceeded,
    BudgetScope,
    Limits,
    bounded_concat,
    budgeted,
    budgeted_join,
    budgeted_sum,
    counted_loop,
    current_budget,
    size_of,
)
from playbook.records import Record, SafeUndefined

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
            if times and size_of(seq, limit) * times > limit:
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


def make_environment(autoescape: bool = False) -> GuardedSandbox:
    """A guarded sandbox with only the safe filters and the area helpers as globals."""
    env = GuardedSandbox(undefined=SafeUndefined, autoescape=autoescape)
    special: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
        "join": budgeted_join, "sum": budgeted_sum}

    def guarded(name: str) -> Callable[..., Any]:
        wrap = special.get(name)
        return wrap(env.filters[name]) if wrap else budgeted(env.filters[name], name)

    env.filters = {name: guarded(name) for name in _SAFE_FILTERS if name in env.filters}
    env.filters["e"] = env.filters["escape"] = budgeted(escape, "escape")
    env.filters["_counted_loop"] = counted_loop
    env.concat = bounded_concat  # type: ignore[method-assign]
    env.globals = {"within": within, "distance_km": distance_km}
    return env


_ENV = make_environment()
TEXT_ENV = make_environment()  # message texts: SMS, subject, plain body (never escaped)
HTML_ENV = make_environment(autoescape=True)  # HTML bodies
for _env in (TEXT_ENV, HTML_ENV):
    _env.trim_blocks = _env.lstrip_blocks = True  # block tags on their own line leave no gap


@lru_cache(maxsize=2048)
def compile_template(source: str, html: bool = False) -> Any:
    """A message text compiled once per process (syntax was checked when the playbook loaded),
    from the code cache when the loader kept it there."""
    env = HTML_ENV if html else TEXT_ENV
    kept = codecache.current().get("html" if html else "text", source)
    if kept is None:
        return env.from_string(source)
    return env.template_class.from_code(env, kept[0], env.make_globals(None), None)


def _expression_template(source: str) -> Template:
    """An expression compiled as `Environment.compile_expression` does (the value in `result`),
    its code kept in the code cache."""
    cache = codecache.current()
    code = cache.get("expr", source)
    if code is None:
        parser = Parser(_ENV, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno,
                                      None, None)
        expr.set_environment(_ENV)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        code = _ENV.compile(nodes.Template(body, lineno=1))
        cache.put("expr", source, code)
    template: Template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)
    return template


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
            template = _expression_template(source)
        except TemplateSyntaxError as exc:
            raise ExpressionError(f"syntax error: {exc.message}", exc.lineno or 1) from None
        except (RecursionError, MemoryError):
            raise ExpressionError("expression is nested too deeply") from None
        except Exception as exc:  # the compiler may refuse odd input in other ways
            raise ExpressionError(f"does not compile: {exc}") from None
        self._template = template
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
