"""Messages that a page can say in another language.

A refusal or warning of the core is English text (what the commands print and the tests read);
`Said` is that text, a `str`, that also keeps a key and the values it was made from, so the
dashboard can say it in Dutch with its own words. Anything that treats it as text is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping


class Said(str):
    """English text with the key and values it was made from."""

    key: str
    values: Mapping[str, str]

    def __new__(cls, key: str, text: str, **values: object) -> Said:
        """`text` as said, under `key`, with the values a translation fills in."""
        said = super().__new__(cls, text)
        said.key = key
        said.values = {name: str(value) for name, value in values.items()}
        return said

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.key, str(self), dict(self.values)))


def prefixed(prefix: str, text: str) -> str:
    """The text with a prefix (such as the option it came from), still a Said if it was one."""
    if isinstance(text, Said):
        return Said(text.key, prefix + text, **text.values)
    return prefix + text


def _rebuild(key: str, text: str, values: dict[str, str]) -> Said:
    return Said(key, text, **values)
