"""The texts of peace time: the liaison's digest and briefing (Dutch and English, for staff)
and the introduction of a new liaison to a key figure, in the key figure's language.

An SMS never names a community (a mosque's name reveals religion on a lock screen); the
email of an introduction does.
"""

from __future__ import annotations

from typing import Any

INTRO_LANGUAGES = ("nl", "en", "ar", "tr", "pl")
FALLBACK = "nl"

INTRO_SUBJECT = {
    "nl": "Uw nieuwe contactpersoon bij de gemeente {municipality}",
    "en": "Your new contact person at the municipality of {municipality}",
    "ar": "جهة الاتصال الجديدة لكم في بلدية {municipality}",
    "tr": "{municipality} Belediyesi'ndeki yeni irtibat kişiniz",
    "pl": "Nowa osoba kontaktowa w gminie {municipality}",
}
INTRO_SMS = {
    "nl": "Beste {name}, vanaf nu is {liaison} uw vaste contactpersoon bij de gemeente "
          "{municipality}. U bereikt {liaison} via {reach}.",
    "en": "Dear {name}, from now on {liaison} is your regular contact person at the "
          "municipality of {municipality}. You can reach {liaison} at {reach}.",
    "ar": "عزيزي/عزيزتي {name}، ابتداءً من الآن {liaison} هو/هي جهة الاتصال الدائمة لكم في "
          "بلدية {municipality}. يمكنكم التواصل مع {liaison} عبر {reach}.",
    "tr": "Sayın {name}, bundan sonra {municipality} Belediyesi'ndeki sabit irtibat kişiniz "
          "{liaison}. {liaison} kişisine {reach} üzerinden ulaşabilirsiniz.",
    "pl": "Szanowni Państwo ({name}), od teraz {liaison} jest Państwa stałą osobą kontaktową "
          "w gminie {municipality}. Kontakt: {reach}.",
}
INTRO_EMAIL_EXTRA = {
    "nl": "Dit gaat over: {communities}. We kijken uit naar de kennismaking.",
    "en": "This concerns: {communities}. We look forward to meeting you.",
    "ar": "يتعلق هذا بـ: {communities}. نتطلع إلى التعرف عليكم.",
    "tr": "Konu: {communities}. Sizinle tanışmayı dört gözle bekliyoruz.",
    "pl": "Dotyczy: {communities}. Cieszymy się na spotkanie.",
}

DIGEST_SUBJECT = ("Contact met gemeenschappen: {count} te doen / Community contact: {count} "
                  "due")
BRIEFING_SUBJECT = ("Overdracht: {count} gemeenschap(pen) van {previous} / Handover: "
                    "{count} communit(y/ies) from {previous}")


def intro_language(language: str | None, default: str = FALLBACK) -> str:
    """The language of an introduction: the contact's when we have it, else the default."""
    return language if language in INTRO_LANGUAGES else (
        default if default in INTRO_LANGUAGES else FALLBACK)


def introduction(*, language: str, channel: str, name: str, liaison: str, reach: str,
                 municipality: str, communities: list[str]) -> tuple[str | None, str]:
    """(subject, body) of the introduction of a new liaison to a key figure."""
    values = {"name": name, "liaison": liaison, "reach": reach, "municipality": municipality,
              "communities": ", ".join(communities)}
    body = INTRO_SMS[language].format(**values)
    if channel == "sms":
        return None, body
    subject = INTRO_SUBJECT[language].format(**values)
    return subject, body + "\n\n" + INTRO_EMAIL_EXTRA[language].format(**values) + "\n"


def _status_line(item: dict[str, Any]) -> str:
    last = item["last_contact_local"] or "nooit / never"
    if item["status"] == "never":
        state = "nooit gesproken / never contacted"
    elif item["status"] == "overdue":
        state = f"{item['days']} dagen te laat / days overdue"
    else:
        state = f"over {item['days']} dagen / due in {item['days']} days"
    return f"- {item['name']} ({item['community']}): {state}; laatste contact / last: {last}"


def agreement_lines(agreements: list[dict[str, Any]], indent: str = "    ") -> list[str]:
    """Open agreements as lines: text and due date."""
    return [f"{indent}* afspraak / agreement #{a['id']}: {a['text']}"
            + (f" (uiterlijk / due {a['due']})" if a.get("due") else "") for a in agreements]


def digest_body(*, liaison: str, items: list[dict[str, Any]], municipality: str) -> str:
    """The digest email of one liaison: communities due for contact, with open agreements."""
    lines = [f"Beste {liaison}, / Dear {liaison},", "",
             "Deze gemeenschappen zijn aan een contactmoment toe (of binnenkort). / "
             "These communities are due for contact (or soon).", ""]
    for item in items:
        lines.append(_status_line(item))
        lines += agreement_lines(item["agreements"])
    lines += ["", "Leg een contact vast met / Log a contact with: verbinder contact log "
              "--community ID --kind visit --by YOU", "", f"Gemeente {municipality}"]
    return "\n".join(lines) + "\n"


def briefing_body(*, liaison: str, previous: str, communities: list[dict[str, Any]],
                  municipality: str) -> str:
    """The handover briefing: per community its contacts, last contacts, agreements and the
    needs still open from past incidents."""
    lines = [f"Beste {liaison}, / Dear {liaison},", "",
             f"U neemt deze gemeenschappen over van {previous}. / You take over these "
             f"communities from {previous}.", ""]
    for c in communities:
        lines.append(f"== {c['name']} ({c['id']}) ==")
        lines.append("Contactpersonen / contacts:")
        lines += [f"  - {p['name']} ({p['role'] or '-'}), {p['language'] or '-'}"
                  + ("" if p["consent"] else " - geen toestemming / no consent")
                  for p in c["contacts"]] or ["  (geen / none)"]
        lines.append("Laatste contacten / last contacts:")
        lines += [f"  - {x['at_local']} {x['kind']} ({x['by']})" for x in c["last_contacts"]
                  ] or ["  (geen / none)"]
        lines.append("Open afspraken / open agreements:")
        lines += agreement_lines(c["agreements"], "  ") or ["  (geen / none)"]
        lines.append("Open behoeften uit eerdere incidenten / open needs from past incidents:")
        lines += [f"  - incident {n['incident']}: {n['need']}" for n in c["open_needs"]
                  ] or ["  (geen / none)"]
        lines.append("")
    lines.append(f"Gemeente {municipality}")
    return "\n".join(lines) + "\n"
