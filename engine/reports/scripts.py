"""Short scripts for a call, in the languages of the contacts.

A script is a few lines the caller reads or follows: who is calling, why, how they are, what
they need, who their contact person at the municipality is, and a note that the call is
recorded on the sheet. Names and the incident title are placeholders, filled in isolated from
the surrounding text (`<bdi>`), so that a Latin name inside an Arabic sentence keeps its
order and the sentence keeps its direction.
"""

from __future__ import annotations

import re

RTL = frozenset({"ar", "he", "fa", "ur"})
BLANK = "________"

# {municipality}, {title}, {community}, {liaison}; a line naming {liaison} is left out when
# the community has none.
SCRIPTS: dict[str, list[str]] = {
    "nl": [
        "Goedendag, u spreekt met " + BLANK + " van de gemeente {municipality}.",
        "Ik bel naar aanleiding van: {title}.",
        "Hoe gaat het met u en met {community}?",
        "Heeft u op dit moment iets nodig? Bijvoorbeeld beveiliging, een gesprek of nazorg.",
        "Uw vaste contactpersoon bij de gemeente is {liaison}. Wij houden contact met u.",
        "Mag ik noteren dat wij elkaar gesproken hebben? Dank u wel.",
    ],
    "en": [
        "Hello, this is " + BLANK + " from the municipality of {municipality}.",
        "I am calling about: {title}.",
        "How are you and {community} doing?",
        "Do you need anything right now? For example security, a conversation or aftercare.",
        "Your contact person at the municipality is {liaison}. We will stay in touch with you.",
        "May I note that we have spoken? Thank you.",
    ],
    "ar": [
        "السلام عليكم، معكم " + BLANK + " من بلدية {municipality}.",
        "أتصل بكم بخصوص: {title}.",
        "كيف حالكم، وكيف حال {community}؟",
        "هل تحتاجون إلى شيء الآن؟ مثلاً الحماية والأمن، أو محادثة، أو رعاية ومتابعة.",
        "الشخص المسؤول عن التواصل معكم في البلدية هو {liaison}. وسنبقى على تواصل معكم.",
        "هل يمكنني أن أسجّل أننا تحدثنا؟ شكراً لكم.",
    ],
    "tr": [
        "İyi günler, ben {municipality} Belediyesi'nden " + BLANK + ".",
        "Şu konu nedeniyle arıyorum: {title}.",
        "Siz ve {community} nasılsınız?",
        "Şu anda bir şeye ihtiyacınız var mı? Örneğin güvenlik, bir görüşme ya da destek ve "
        "takip.",
        "Belediyedeki irtibat kişiniz {liaison}. Sizinle iletişimde kalacağız.",
        "Görüştüğümüzü not edebilir miyim? Teşekkür ederim.",
    ],
    "pl": [
        "Dzień dobry, mówi " + BLANK + " z urzędu gminy {municipality}.",
        "Dzwonię w sprawie: {title}.",
        "Jak się Państwo czują? Jak się ma społeczność {community}?",
        "Czy potrzebują Państwo teraz czegoś? Na przykład ochrony, rozmowy lub dalszego "
        "wsparcia.",
        "Państwa stałą osobą kontaktową w gminie jest {liaison}. Pozostaniemy w kontakcie.",
        "Czy mogę zanotować, że rozmawialiśmy? Dziękuję.",
    ],
}
LANGUAGE_NAMES = {
    "nl": {"nl": "Nederlands", "en": "Engels", "ar": "Arabisch", "tr": "Turks", "pl": "Pools"},
    "en": {"nl": "Dutch", "en": "English", "ar": "Arabic", "tr": "Turkish", "pl": "Polish"},
}
_PLACEHOLDER = re.compile(r"\{(municipality|title|community|liaison)\}")

Segment = tuple[str, bool]  # text, whether it is a value to isolate


def script_language(preferred: list[str | None], fallback: str = "nl") -> str:
    """The first of the preferred languages that has a script, else the fallback."""
    for lang in preferred:
        if lang and lang.lower() in SCRIPTS:
            return lang.lower()
    return fallback


def script_lines(lang: str, values: dict[str, str | None]) -> list[list[Segment]]:
    """The script in a language as lines of segments; values isolated from the text."""
    lines = []
    for template in SCRIPTS[lang]:
        names = _PLACEHOLDER.findall(template)
        if any(not values.get(n) for n in names):
            continue
        segments: list[Segment] = []
        position = 0
        for match in _PLACEHOLDER.finditer(template):
            segments.append((template[position:match.start()], False))
            segments.append((str(values[match[1]]), True))
            position = match.end()
        segments.append((template[position:], False))
        lines.append([s for s in segments if s[0]])
    return lines


def direction(lang: str) -> str:
    """rtl or ltr."""
    return "rtl" if lang in RTL else "ltr"
