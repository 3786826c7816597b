"""The words of the reports, in Dutch and English; times and durations as people read them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("nl", "en")

ROLES = {
    "nl": {"affected": "getroffen", "at_risk": "risico", "bridging": "verbindend",
           "informed": "geïnformeerd", "all": "alle"},
    "en": {"affected": "affected", "at_risk": "at risk", "bridging": "bridging",
           "informed": "informed", "all": "all"},
}

NOTIFY = {
    "nl": {"primary": "eerste contact", "backup": "reservecontact",
           "all_contacts": "alle contacten", "liaison": "vaste contactpersoon",
           "oncall": "dienstdoende", "coordinator": "coördinator"},
    "en": {"primary": "primary", "backup": "backup", "all_contacts": "all contacts",
           "liaison": "liaison", "oncall": "on call", "coordinator": "coordinator"},
}

CHANNELS = {"nl": {"sms": "sms", "email": "e-mail"}, "en": {"sms": "SMS", "email": "email"}}

WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "evaluation": "Evaluatie", "incident": "Incident", "exercise": "OEFENING",
        "exercise_note": "Dit was een oefening: het telt in geen enkel cijfer van de "
                         "periode mee.",
        "type": "Soort", "severity": "Ernst", "area": "Gebied", "declared": "Gemeld",
        "closed": "Gesloten", "still_open": "nog open", "status": "Status",
        "playbook": "Draaiboek", "digest": "Vingerafdruk", "generated": "Gemaakt",
        "summary": "Samenvatting", "communities": "Gemeenschappen", "community": "Gemeenschap",
        "role": "Rol", "reached": "Bereikt", "not_reached": "Niet bereikt",
        "first_message": "Eerste bericht", "delivered": "Afgeleverd",
        "acknowledged": "Bevestigd", "channels_worked": "Werkende kanalen",
        "ack_via": "Bevestigd via", "escalation": "Escalatie", "steps": "Stappen",
        "to_staff": "naar medewerker", "needs": "Behoeften", "needs_met": "Behoeften vervuld",
        "yes": "ja", "no": "nee", "none": "—", "tasks_late": "Taken te laat",
        "tasks_open": "Taken open", "medians": "Medianen", "median": "mediaan",
        "overall": "Totaal", "time_to_first": "Tijd tot eerste bericht",
        "time_to_delivery": "Tijd tot aflevering", "time_to_ack": "Tijd tot bevestiging",
        "count": "Aantal", "share": "Aandeel", "reach_chart": "Bereik in de tijd",
        "reach_axis": "aandeel bevestigd", "minutes_axis": "tijd sinds melding",
        "swimlane": "Tijdlijn per gemeenschap", "milestones": "Bereikt na",
        "incident_tasks": "Taken van het incident", "task": "Taak", "due": "Deadline",
        "done": "Gedaan", "late": "te laat", "open": "open", "overdue": "niet gedaan",
        "messages": "Berichten", "sent": "verstuurd", "failed": "mislukt",
        "unknown": "onbekend", "events": "Gebeurtenissen in de tijdlijn",
        "pii_note": "Met persoonsgegevens: niet verder verspreiden.",
        "no_pii_note": "Zonder persoonsgegevens (namen, nummers, adressen, vrije tekst).",
        "definitions": "Begrippen",
        "def_times": "Tijden tellen vanaf de melding. Eerste bericht: het eerste bericht aan "
                     "een contactpersoon van de gemeenschap dat de provider aannam. "
                     "Afgeleverd: de eerste afleverbevestiging (alleen sms meldt die). "
                     "Bevestigd: een contactpersoon antwoordde of een medewerker markeerde "
                     "de gemeenschap als bereikt.",
        "def_needs": "Behoeften vervuld: de gemeenschap noemde behoeften en al haar taken "
                     "van het soort uitvraag en actie zijn gedaan.",
        "def_channels": "Werkend kanaal: een bericht op dat kanaal werd aangenomen of "
                        "afgeleverd en niet later als mislukt gemeld.",
        "by_contact": "contactpersoon", "by_staff": "medewerker",
        "lane_message": "bericht", "lane_delivered": "afgeleverd",
        "lane_staff": "escalatie naar medewerker", "lane_ack": "bevestigd",
        "lane_needs": "behoeften", "lane_followup": "nazorg",
        "period_report": "Rapportage", "period": "Periode", "from": "van", "to": "tot en met",
        "incidents": "Incidenten", "real_incidents": "Echte incidenten",
        "exercises": "Oefeningen (niet meegeteld)", "by_type": "Naar soort",
        "by_severity": "Naar ernst", "reach": "Bereik", "channels": "Kanalen",
        "escalations": "Escalaties naar medewerkers", "escalated": "geëscaleerd",
        "tasks": "Taken", "late_or_open": "te laat of open", "stated": "genoemd",
        "no_incidents": "Geen echte incidenten in deze periode.",
        "page": "pagina", "of": "van", "callsheet": "Belsheet",
        "confidential": "Vertrouwelijk: bevat persoonsgegevens. Na gebruik vernietigen.",
        "contacts": "Contactpersonen", "priority": "Prio", "name": "Naam", "phone": "Telefoon",
        "email": "E-mail", "channel": "Kanaal", "language": "Taal", "called": "gebeld",
        "liaison": "Vaste contactpersoon", "no_liaison": "geen vaste contactpersoon",
        "on_call": "Dienstdoende nu", "nobody_on_call": "niemand heeft dienst",
        "known": "Al bekend", "not_yet": "nog niet bevestigd", "script": "Belscript",
        "translation": "Vertaling voor de beller", "notes": "Notities",
        "no_contacts": "Geen bereikbare contactpersoon: bel de vaste contactpersoon.",
        "sms_stopped": "wil geen sms (STOP)", "remarks": "Opmerkingen",
        "no_communities": "Geen gemeenschappen in dit incident.",
        "answered_by": "door",
        "exercise_note_period": "Oefeningen tellen in geen enkel cijfer mee; ze staan apart "
                                "vermeld.",
        "medians_note": "Tijden zijn medianen over de gemeenschappen waarvoor ze bekend zijn. "
                        "Behoeften vervuld: vervuld van genoemd.",
    },
    "en": {
        "evaluation": "Evaluation", "incident": "Incident", "exercise": "EXERCISE",
        "exercise_note": "This was an exercise: it counts in none of the period's figures.",
        "type": "Type", "severity": "Severity", "area": "Area", "declared": "Declared",
        "closed": "Closed", "still_open": "still open", "status": "Status",
        "playbook": "Playbook", "digest": "Digest", "generated": "Generated",
        "summary": "Summary", "communities": "Communities", "community": "Community",
        "role": "Role", "reached": "Reached", "not_reached": "Not reached",
        "first_message": "First message", "delivered": "Delivered",
        "acknowledged": "Acknowledged", "channels_worked": "Channels that worked",
        "ack_via": "Acknowledged via", "escalation": "Escalation", "steps": "Steps",
        "to_staff": "to staff", "needs": "Needs", "needs_met": "Needs met",
        "yes": "yes", "no": "no", "none": "—", "tasks_late": "Tasks late",
        "tasks_open": "Tasks open", "medians": "Medians", "median": "median",
        "overall": "Overall", "time_to_first": "Time to first message",
        "time_to_delivery": "Time to delivery", "time_to_ack": "Time to acknowledgement",
        "count": "Count", "share": "Share", "reach_chart": "Reach over time",
        "reach_axis": "share acknowledged", "minutes_axis": "time since declaration",
        "swimlane": "Timeline per community", "milestones": "Reached within",
        "incident_tasks": "Incident tasks", "task": "Task", "due": "Due",
        "done": "Done", "late": "late", "open": "open", "overdue": "not done",
        "messages": "Messages", "sent": "sent", "failed": "failed",
        "unknown": "unknown", "events": "Events in the timeline",
        "pii_note": "Holds personal data: do not pass on.",
        "no_pii_note": "Without personal data (names, numbers, addresses, free text).",
        "definitions": "Definitions",
        "def_times": "Times count from the declaration. First message: the first message to a "
                     "contact of the community that the provider accepted. Delivered: the "
                     "first delivery report (only SMS reports one). Acknowledged: a contact "
                     "answered or staff marked the community reached.",
        "def_needs": "Needs met: the community stated needs and all its intake and action "
                     "tasks are done.",
        "def_channels": "Channel that worked: a message on it was accepted or delivered and "
                        "not reported failed later.",
        "by_contact": "contact", "by_staff": "staff",
        "lane_message": "message", "lane_delivered": "delivered",
        "lane_staff": "escalated to staff", "lane_ack": "acknowledged",
        "lane_needs": "needs", "lane_followup": "aftercare",
        "period_report": "Report", "period": "Period", "from": "from", "to": "to",
        "incidents": "Incidents", "real_incidents": "Real incidents",
        "exercises": "Exercises (not counted)", "by_type": "By type",
        "by_severity": "By severity", "reach": "Reach", "channels": "Channels",
        "escalations": "Escalations to staff", "escalated": "escalated",
        "tasks": "Tasks", "late_or_open": "late or open", "stated": "stated",
        "no_incidents": "No real incidents in this period.",
        "page": "page", "of": "of", "callsheet": "Call sheet",
        "confidential": "Confidential: holds personal data. Destroy after use.",
        "contacts": "Contacts", "priority": "Prio", "name": "Name", "phone": "Phone",
        "email": "Email", "channel": "Channel", "language": "Language", "called": "called",
        "liaison": "Liaison", "no_liaison": "no liaison",
        "on_call": "On call now", "nobody_on_call": "nobody on call",
        "known": "Known", "not_yet": "not yet acknowledged", "script": "Script",
        "translation": "Translation for the caller", "notes": "Notes",
        "no_contacts": "No reachable contact: call the liaison.",
        "sms_stopped": "wants no SMS (STOP)", "remarks": "Remarks",
        "no_communities": "No communities in this incident.",
        "answered_by": "by",
        "exercise_note_period": "Exercises count in no figure; they are listed apart.",
        "medians_note": "Times are medians over the communities for which they are known. "
                        "Needs met: met of stated.",
    },
}


def words(lang: str) -> dict[str, str]:
    """The report's words in a language (nl or en)."""
    return WORDS[lang]


def local_time(value: datetime | None, zone: str, lang: str) -> str:
    """A time as people read it: in the playbook's zone, with the offset shown."""
    if value is None:
        return WORDS[lang]["none"]
    here = value.astimezone(ZoneInfo(zone))
    offset = here.strftime("%z")
    shown = f"{offset[:3]}:{offset[3:]}"
    pattern = "%d-%m-%Y %H:%M" if lang == "nl" else "%Y-%m-%d %H:%M"
    return f"{here.strftime(pattern)} ({shown})"


def duration(minutes: float | None, lang: str) -> str:
    """A span in minutes as `12 min`, `1 u 05 min` / `1 h 05 min`, `2 d 3 u`."""
    if minutes is None:
        return WORDS[lang]["none"]
    hour = "u" if lang == "nl" else "h"
    whole = round(minutes)
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    if whole < 60:
        return f"{whole} min"
    hours, mins = divmod(whole, 60)
    if hours < 24:
        return f"{hours} {hour}" + (f" {mins:02d} min" if mins else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} {hour}" if hours else "")


def label(labels: dict[str, str], lang: str, fallback: str) -> str:
    """A playbook label in the language, else in Dutch or English, else the fallback."""
    return labels.get(lang) or labels.get("nl") or labels.get("en") or fallback
