"""The core's refusals and warnings in the page's language.

The playbook core says them in English (`playbook.said.Said` keeps the key and values of a
refusal; a checklist warning has a `code` and details). A Dutch page says the ones it knows in
Dutch; anything else, and every English page, shows the core's own text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbook.said import Said

_TYPES_NL = {"string": "tekst", "community": "id van een gemeenschap", "tag": "tag",
             "int": "heel getal", "bool": "true of false", "enum": "keuze"}
_REASONS_NL = {"inactive": "niet actief", "without consent": "zonder toestemming",
               "without an address": "zonder adres", "opted out": "afgemeld"}

REFUSALS_NL = {
    "field_required": "veld '{name}': verplicht bij type '{type}'",
    "field_undefined": "veld '{name}': bestaat niet bij type '{type}' (wel: {defined})",
    "field_not_one_of": "veld '{name}': {value} is geen van {values}",
    "field_not_type": "veld '{name}': {value} is geen {type_nl}",
    "field_not_whole": "veld '{name}': '{value}' is geen heel getal",
    "field_not_bool": "veld '{name}': '{value}' is niet true of false",
    "field_no_community": "veld '{name}': '{value}' is geen id van een actieve gemeenschap"
                          "{close_nl}",
    "field_no_tag": "veld '{name}': geen actieve gemeenschap heeft de tag '{value}'{close_nl}",
    "severity_range": "ernst: {value} moet een heel getal van 1 tot 5 zijn",
    "severity_not_whole": "ernst: '{value}' is geen heel getal",
}

WARNINGS_NL = {
    "when_failed": "regel '{rule}': de 'when' kon niet worden berekend; de regel geldt niet",
    "select_failed": "regel '{rule}': de 'select' kon voor {count} gemeenschap(pen) niet "
                     "worden berekend; de regel kiest die niet",
    "contacts_left_out": "{community}: {count} contactpersoon/-personen weggelaten "
                         "({reasons_nl})",
    "no_eligible_contact": "{community}: geen bereikbare contactpersoon",
    "no_affected": "geen gemeenschap als getroffen gevonden: controleer {check_nl}",
    "area_without_communities": "gebied '{area}': hier ligt geen gemeenschap; controleer de "
                                "gebiedscode",
}


def say(lang: str, text: str) -> str:
    """A refusal in the page's language (the core's text when there is no Dutch for it)."""
    if lang != "nl" or not isinstance(text, Said) or text.key not in REFUSALS_NL:
        return str(text)
    values = dict(text.values)
    values["type_nl"] = _TYPES_NL.get(values.get("type", ""), values.get("type", ""))
    values["close_nl"] = _close_nl(values.get("close", ""))
    return REFUSALS_NL[text.key].format_map(_Blank(values))


def say_warning(lang: str, text: str, detail: Mapping[str, Any] | None) -> str:
    """A checklist warning in the page's language, from its code and details."""
    code = (detail or {}).get("code")
    if lang != "nl" or code not in WARNINGS_NL:
        return text
    values: dict[str, Any] = dict(detail or {})
    reasons = values.get("reasons") or {}
    values["reasons_nl"] = ", ".join(f"{n} {_REASONS_NL.get(why, why)}"
                                     for why, n in reasons.items())
    values["check_nl"] = ", ".join(values.get("check") or [])
    return WARNINGS_NL[str(code)].format_map(_Blank(values))


def _close_nl(close: str) -> str:
    names = [c for c in close.split(" / ") if c]
    if not names:
        return ""
    return " (bedoelt u " + " of ".join(f"'{n}'" for n in names) + "?)"


class _Blank(dict[str, Any]):
    """Values for a text; a value the details lack reads as empty, never as an error."""

    def __missing__(self, key: str) -> str:
        return ""
