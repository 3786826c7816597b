"""Refusals and warnings of the core said in the dashboard's language (playbook/said.py,
engine/web/dashboard/said.py): the text stays what commands print, a Dutch page says it in
Dutch, and every refusal the code can say has Dutch words."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

from engine.web.dashboard.said import WARNINGS_NL, say_warning
from playbook.said import REFUSALS_NL, Said, in_both, prefixed, say

ROOT = Path(__file__).resolve().parents[2]


def test_a_said_text_is_the_english_text_with_its_key_and_values() -> None:
    text = Said("field_required", "field 'x': required for type 't'", name="x", type="t")
    assert text == "field 'x': required for type 't'" and isinstance(text, str)
    assert (text.key, dict(text.values)) == ("field_required", {"name": "x", "type": "t"})
    again = pickle.loads(pickle.dumps(text))
    assert again == text and again.key == "field_required" and again.values == text.values
    longer = prefixed("--field ", text)
    assert longer == "--field field 'x': required for type 't'"
    assert isinstance(longer, Said) and longer.key == "field_required"
    assert prefixed("--field ", "plain") == "--field plain"


def test_a_dutch_page_says_it_in_dutch_an_english_page_as_it_is() -> None:
    text = Said("field_no_tag", "field 'g': no active community carries the tag 'islm' "
                "(did you mean 'islam'?)", name="g", value="islm",
                hint_nl=" (bedoelt u 'islam'?)")
    assert say("nl", text) == ("veld 'g': geen actieve gemeenschap heeft de tag 'islm' "
                               "(bedoelt u 'islam'?)")
    assert say("en", text) == text
    assert say("nl", "a plain text") == "a plain text"
    assert in_both(text) == f"{text} / {say('nl', text)}" and in_both("as it is") == "as it is"
    assert say("nl", Said("unknown_key", "as it is")) == "as it is"
    left_out = {"code": "contacts_left_out", "community": "kerk-c", "count": 2,
                "reasons": {"opted out": 1, "without consent": 1}}
    assert say_warning("nl", "Kerk C (kerk-c): 2 contacts left out", left_out) == (
        "kerk-c: 2 contactpersoon/-personen weggelaten (1 afgemeld, 1 zonder toestemming)")
    assert say_warning("en", "as it is", left_out) == "as it is"
    assert say_warning("nl", "no details", None) == "no details"
    assert say_warning("nl", "missing values", {"code": "when_failed"}) == (
        "regel '': de 'when' kon niet worden berekend; de regel geldt niet")


def test_every_refusal_and_warning_the_code_says_has_dutch_words() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for folder in ("playbook", "engine")
                       for p in (ROOT / folder).rglob("*.py"))
    said = set(re.findall(r'Said\(\s*"([a-z_]+)"', source))
    coded = set(re.findall(r'code="([a-z_]+)"', source))
    assert said and said <= set(REFUSALS_NL), said - set(REFUSALS_NL)
    assert coded and coded <= set(WARNINGS_NL), coded - set(WARNINGS_NL)
