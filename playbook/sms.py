"""SMS encoding and segments (GSM-7 or UCS-2), and reading intake answers sent by SMS.

Segments are counted as Twilio sends the text. A Messaging Service with Smart Encoding (on by
default for a new Messaging Service) replaces characters that have a GSM-7 look-alike (’ “ ” –
— … the no-break space and the others of Twilio's "List of characters replaced by Smart
Encoding") before it picks the encoding, but only when the whole text then fits GSM-7;
otherwise the text goes out unchanged as UCS-2. A plain From number sends the text as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playbook.errors import Problem
from playbook.model import IntakeForm, Playbook

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


# Twilio's Smart Encoding list, grouped by what a character becomes. The spaces become two
# spaces, as Twilio's own segment calculator counts them (the published list does not say how
# many; counting two never counts too few segments). Control characters and TAB are left out:
# the list's replacements for them are not documented behaviour.
_LOOKALIKES = {
    '"': "\u00ab\u00bb\u201c\u201d\u02ba\u02ee\u201f\u275d\u275e\u301d\u301e\uff02\u201e",
    "'": ("\u2018\u2019\u02bb\u02c8\u02bc\u02bd\u02b9\u201b\uff07\u00b4\u02ca\u0060"
          "\u02cb\u275b\u275c\u0313\u0314\ufe10\ufe11"),
    "/": "\u00f7\u29f8\u0337\u0338\u2044\u2215\uff0f",
    "1/4": "\u00bc", "1/2": "\u00bd", "3/4": "\u00be",
    "\\": "\u29f9\u29f5\u20e5\ufe68\uff3c",
    "_": "\u0332\uff3f\u2017",
    "|": "\u20d2\u20d3\u2223\uff5c\u23b8\u23b9\u23d0\u239c\u239f",
    "-": "\u23bc\u23bd\u2015\ufe63\uff0d\u2010\u2043\u2013\u2014\u2022",
    "@": "\ufe6b\uff20", "$": "\ufe69\uff04",
    "!": "\u01c3\ufe15\ufe57\uff01", "!!": "\u203c",
    "#": "\ufe5f\uff03", "%": "\ufe6a\uff05", "&": "\ufe60\uff06",
    ",": "\u201a\u0326\ufe50\ufe51\uff0c\uff64\u3001",
    "(": "\u2768\u276a\ufe59\uff08\u27ee\u2985",
    ")": "\u2769\u276b\ufe5a\uff09\u27ef\u2986",
    "*": ("\u204e\u2217\u229b\u2722\u2723\u2724\u2725\u2731\u2732\u2733\u273a\u273b"
          "\u273c\u273d\u2743\u2749\u274a\u274b\u29c6\ufe61\uff0a"),
    "+": "\u02d6\ufe62\uff0b",
    ".": "\u3002\ufe52\uff0e\uff61", "...": "\u2026",
    ":": "\u02d0\u02f8\u2982\ua789\ufe13\uff1a",
    ";": "\u204f\ufe14\ufe54\uff1b",
    "<": "\ufe64\uff1c\u203a", ">": "\ufe65\uff1e\u2039",
    "=": "\u0347\ua78a\ufe66\uff1d",
    "?": "\ufe16\ufe56\uff1f",
    "^": "\u02c6\u0302\uff3e\u1dcd",
    "{": "\u2774\ufe5b\uff5b", "}": "\u2775\ufe5c\uff5d", "[": "\uff3b", "]": "\uff3d",
    "~": "\u02dc\u02f7\u0303\u0330\u0334\u223c\uff5e",
    "  ": ("\u00a0\u2000\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
           "\u202f\u205f\u3000"),
    " ": "\u2001\u2028\u2029",
    "": "\u200b\u2060\ufeff",
}
_LETTERS = {  # fullwidth and small-capital letters
    "A": "\uff21\u1d00", "B": "\uff22\u0299", "C": "\uff23\u1d04", "D": "\uff24\u1d05",
    "E": "\uff25\u1d07", "F": "\uff26\ua730", "G": "\uff27\u0262", "H": "\uff28\u029c",
    "I": "\uff29\u026a", "J": "\uff2a\u1d0a", "K": "\uff2b\u1d0b", "L": "\uff2c\u029f",
    "M": "\uff2d\u1d0d", "N": "\uff2e\u0274", "O": "\uff2f\u1d0f", "P": "\uff30\u1d18",
    "Q": "\uff31", "R": "\uff32\u0280", "S": "\uff33\ua731", "T": "\uff34\u1d1b",
    "U": "\uff35\u1d1c", "V": "\uff36\u1d20", "W": "\uff37\u1d21", "X": "\uff38",
    "Y": "\uff39\u028f", "Z": "\uff3a\u1d22",
}
_DIGITS = {str(d): chr(0xFF10 + d) for d in range(10)}  # fullwidth digits
SMART_ENCODING: dict[str, str] = {
    char: target
    for table in (_LOOKALIKES, _LETTERS, _DIGITS)
    for target, chars in table.items()
    for char in chars
}
_SMART_TABLE = str.maketrans(SMART_ENCODING)


@dataclass(frozen=True)
class SmsInfo:
    """How a text travels as SMS: encoding, number of segments, length in encoding units."""

    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    units: int  # septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2
    characters: int

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {"encoding": self.encoding, "segments": self.segments, "units": self.units,
                "characters": self.characters}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(sizes: list[int], single: int, multi: int) -> int:
    """Segments needed when a character's units may not be split over two segments."""
    if sum(sizes) <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return segments


def smart_encoded(text: str) -> str:
    """The text as Twilio's Smart Encoding sends it: look-alikes replaced when all of it then
    fits GSM-7, else unchanged."""
    replaced = text.translate(_SMART_TABLE)
    return replaced if is_gsm7(replaced) else text


def sms_info(text: str, *, smart_encoding: bool = False) -> SmsInfo:
    """Encoding and segment count of a text as sent (160/153 GSM-7, 70/67 UCS-2).

    `smart_encoding`: the Messaging Service replaces look-alikes first (see the module doc).
    `characters` counts the text as written.
    """
    sent = smart_encoded(text) if smart_encoding else text
    if is_gsm7(sent):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in sent]
        return SmsInfo("GSM-7", _pack(sizes, 160, 153), sum(sizes), len(text))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsInfo("UCS-2", _pack(sizes, 70, 67), sum(sizes), len(text))


def gsm7_lookalikes(text: str) -> list[str]:
    """The characters that alone take a text out of GSM-7 although each has a GSM-7
    look-alike, in order of first use; empty when the text is GSM-7 or needs UCS-2 anyway."""
    if is_gsm7(text) or not is_gsm7(text.translate(_SMART_TABLE)):
        return []
    return list(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))


def lookalike_warnings(playbook: Playbook) -> list[Problem]:
    """A warning for each SMS text of the playbook that leaves GSM-7 only for look-alikes."""
    warnings = []
    for template in playbook.templates.values():
        for locale, text in template.sms.items():
            found = gsm7_lookalikes(text.source)
            if not found:
                continue
            index = text.source.index(found[0])
            line = text.line + text.source.count("\n", 0, index) if text.path else text.line
            listed = ", ".join(f"{ch!r} (U+{ord(ch):04X}) -> {SMART_ENCODING[ch]!r}"
                               for ch in found)
            warnings.append(Problem(text.file, line, 1, (
                f"templates.{template.id}.sms.{locale}: leaves GSM-7 only for {listed}; sent as"
                " UCS-2 (70 instead of 160 characters a segment) unless the Messaging Service"
                " smart-encodes: write the GSM-7 character / gebruik het GSM-7-teken"
            )))
    return sorted(warnings)


_SEPARATORS = re.compile(r"[\s,;.+/&-]+")
_ARABIC_INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def parse_sms_answer(form: IntakeForm, text: str) -> dict[str, Any] | None:
    """The answer to the form's first choice/multi question from reply digits; None otherwise.

    "2", "1 3", "1,3" answer a multi question; a choice question takes exactly one digit.
    """
    question = next((q for q in form.questions if q.type in ("choice", "multi")
                     and any(o.sms for o in q.options)), None)
    if question is None:
        return None
    tokens = [t for t in _SEPARATORS.split(text.translate(_ARABIC_INDIC).strip()) if t]
    by_digit = {o.sms: o.id for o in question.options if o.sms}
    glued = len(tokens) == 1 and tokens[0].isdigit() and tokens[0] not in by_digit
    if glued and all(ch in by_digit for ch in tokens[0]):  # "13": 1 and 3 (one-digit options)
        tokens = list(tokens[0])
    if not tokens or any(t not in by_digit for t in tokens):
        return None
    chosen = list(dict.fromkeys(by_digit[t] for t in tokens))
    if question.type == "choice":
        return {question.id: chosen[0]} if len(chosen) == 1 else None
    return {question.id: chosen}
