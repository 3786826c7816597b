"""YAML read into values that remember their position (file, line, column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    NodeEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from playbook.errors import Problem

# Values a playbook may hold once its aliases (`*name`) are expanded. The shipped playbook has
# about 1,200; "a billion laughs" (ten levels of nine aliases) would have 3.5 billion.
MAX_VALUES = 100_000


@dataclass
class Y:
    """A YAML value with its position; mappings hold str -> Y, sequences a list of Y."""

    value: Any
    file: str
    line: int
    column: int
    raw: str | None = None  # the scalar as written (keys and free strings keep their text)
    key_line: int = 0
    key_column: int = 0

    @property
    def is_map(self) -> bool:
        """True for a mapping."""
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        """True for a sequence."""
        return isinstance(self.value, list)

    @property
    def is_scalar(self) -> bool:
        """True for a scalar (string, number, bool, null)."""
        return not (self.is_map or self.is_list)

    def text(self) -> str | None:
        """The scalar as a string (as written), or None for null and non-scalars."""
        if not self.is_scalar or self.value is None:
            return None
        return self.raw if self.raw is not None else str(self.value)

    def problem(self, message: str) -> Problem:
        """A problem at this value's position."""
        return Problem(self.file, self.line, self.column, message)

    def key_problem(self, message: str) -> Problem:
        """A problem at the position of the key that holds this value."""
        return Problem(self.file, self.key_line or self.line, self.key_column or self.column,
                       message)


_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _event_pos(event: Event) -> tuple[int, int]:
    mark = event.start_mark
    if mark is None:  # the parser always marks its events; only hand-made ones lack a mark
        return 1, 1
    return mark.line + 1, mark.column + 1


def _alias_problem(text: str, file: str) -> Problem | None:
    """The alias at which expanding aliases passes MAX_VALUES, before anything is expanded.

    Counted on the parser's events: each value counts one, each alias as many as the value it
    repeats, so a file that would expand to billions is refused after reading it once.
    """
    if "&" not in text:  # no anchor, so no alias can repeat anything
        return None
    sizes: dict[str, int] = {}
    open_values: list[tuple[str | None, int]] = []  # (anchor, total when it started)
    total = 0
    for event in yaml.parse(text, Loader=_FastLoader):
        if isinstance(event, AliasEvent):
            size = sizes.get(event.anchor or "")
            if size is None:
                line, col = _event_pos(event)
                return Problem(file, line, col, f"alias '*{event.anchor}' repeats a value that "
                                                "contains it")
            total += size
        elif isinstance(event, ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, CollectionStartEvent):
            open_values.append((event.anchor, total))
            total += 1
        elif isinstance(event, CollectionEndEvent) and open_values:
            anchor, start = open_values.pop()
            if anchor:
                sizes[anchor] = total - start
        if total > MAX_VALUES and isinstance(event, NodeEvent | CollectionEndEvent):
            line, col = _event_pos(event)
            return Problem(file, line, col, f"aliases expand the file to more than "
                                            f"{MAX_VALUES} values")
    return None


class _Converter:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.problems: list[Problem] = []
        self.values = 0

    def convert(self, node: Node, depth: int = 0) -> Y:
        line, col = _pos(node)
        self.values += 1
        if self.values > MAX_VALUES:  # a second guard; _alias_problem refuses such files first
            if self.values == MAX_VALUES + 1:
                self.problems.append(Problem(self.file, line, col,
                                             f"more than {MAX_VALUES} values"))
            return Y(None, self.file, line, col)
        if depth > 50:
            self.problems.append(Problem(self.file, line, col, "nested too deeply"))
            return Y(None, self.file, line, col)
        if isinstance(node, MappingNode):
            out: dict[str, Y] = {}
            for key_node, value_node in node.value:
                kline, kcol = _pos(key_node)
                if not isinstance(key_node, ScalarNode):
                    self.problems.append(Problem(self.file, kline, kcol, "a key must be a name"))
                    continue
                key = str(key_node.value)
                if key == "<<":
                    self.problems.append(Problem(self.file, kline, kcol,
                                                 "merge keys (<<) are not supported"))
                    continue
                if key in out:
                    self.problems.append(Problem(self.file, kline, kcol,
                                                 f"duplicate key '{key}'"))
                    continue
                child = self.convert(value_node, depth + 1)
                child.key_line, child.key_column = kline, kcol
                out[key] = child
            return Y(out, self.file, line, col)
        if isinstance(node, SequenceNode):
            return Y([self.convert(n, depth + 1) for n in node.value], self.file, line, col)
        assert isinstance(node, ScalarNode)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            value = node.value
        if isinstance(value, bytes | bytearray) or not isinstance(
            value, str | int | float | bool | type(None)
        ):
            value = node.value  # dates and other YAML types stay text
        return Y(value, self.file, line, col, raw=str(node.value))


def parse_yaml(text: str, file: str) -> tuple[Y | None, list[Problem]]:
    """Parse one YAML document into positioned values; syntax errors become problems."""
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(file, line, col, f"YAML syntax error: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, 1, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if node is None:
        return None, [Problem(file, 1, 1, "the file is empty")]
    try:
        too_many = _alias_problem(text, file)
    except yaml.YAMLError as exc:  # the composer read it; the event scan should too
        return None, [Problem(file, 1, 1, f"YAML error: {exc}")]
    if too_many is not None:
        return None, [too_many]
    conv = _Converter(file, yaml.SafeLoader(""))
    return conv.convert(node), conv.problems
