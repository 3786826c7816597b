"""The values expressions and templates see: read-only records, and a forgiving undefined."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import ChainableUndefined


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

    def __lt__(self, other: Any) -> bool:  # type: ignore[override]  # jinja2 types it Never
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]

    def __contains__(self, item: Any) -> bool:
        return False
