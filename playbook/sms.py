"""SMS encoding and segments (GSM-7 or UCS-2), and reading intake answers sent by SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playbook.model import IntakeForm

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


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


def sms_info(text: str) -> SmsInfo:
    """Encoding and segment count of a text (160/153 GSM-7, 70/67 UCS-2); the text is unchanged."""
    if is_gsm7(text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsInfo("GSM-7", _pack(sizes, 160, 153), sum(sizes), len(text))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsInfo("UCS-2", _pack(sizes, 70, 67), sum(sizes), len(text))


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
