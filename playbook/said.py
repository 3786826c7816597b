"""Messages that a page can say in another language.

A refusal or warning of the core is English text (what the commands print and the tests read);
`Said` is that text, a `str`, that also keeps a key and the values it was made from, so the
dashboard can say it in Dutch. Anything that treats it as text is unchanged. The Dutch words of
each key are here too (`say`), so that commands print a refusal in both languages (`in_both`:
the English text first, as scripts and tests read it, then the Dutch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


_KINDS_NL = {"string": "tekst", "community": "id van een gemeenschap", "tag": "tag",
             "int": "heel getal", "bool": "true of false"}
REFUSALS_NL = {
    "field_required": "veld '{name}': verplicht bij type '{type}'",
    "field_undefined": "veld '{name}': bestaat niet bij type '{type}' (wel: {defined})",
    "field_not_one_of": "veld '{name}': {value} is geen van {values}",
    "field_not_type": "veld '{name}': {value} is geen {kind_nl}",
    "field_not_whole": "veld '{name}': '{value}' is geen heel getal",
    "field_not_bool": "veld '{name}': '{value}' is niet true of false",
    "field_no_community": "veld '{name}': '{value}' is geen id van een actieve gemeenschap"
                          "{hint_nl}",
    "field_no_tag": "veld '{name}': geen actieve gemeenschap heeft de tag '{value}'{hint_nl}",
    "severity_range": "ernst: {value} moet een heel getal van 1 tot 5 zijn",
    "severity_not_whole": "ernst: '{value}' is geen heel getal",
}


def say(lang: str, text: str) -> str:
    """A refusal in a language: Dutch words for a Said that has them, else the text itself."""
    if lang != "nl" or not isinstance(text, Said) or text.key not in REFUSALS_NL:
        return str(text)
    values = dict(text.values)
    values["kind_nl"] = _KINDS_NL.get(values.get("kind", ""), values.get("kind", ""))
    return REFUSALS_NL[text.key].format_map(Blank(values))


def in_both(text: str) -> str:
    """A refusal as commands print it: the English text, then its Dutch words when it has them."""
    dutch = say("nl", text)
    return text if dutch == text else f"{text} / {dutch}"


class Blank(dict[str, Any]):
    """Values for a text; a value the details lack reads as empty, never as an error."""

    def __missing__(self, key: str) -> str:
        return ""
