"""The checklist's warnings in the page's language.

The playbook core says a warning in English, with a `code` and details; a Dutch page says the
ones whose code it knows in Dutch, anything else (and every English page) shows the core's
text. Refusals have their Dutch words with `playbook.said.Said`, which commands print too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbook.said import Blank

_REASONS_NL = {"inactive": "niet actief", "without consent": "zonder toestemming",
               "without an address": "zonder adres", "opted out": "afgemeld"}

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
    return WARNINGS_NL[str(code)].format_map(Blank(values))
