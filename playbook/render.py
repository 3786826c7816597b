"""Rendering message templates in the sandbox: language choice, intake link, SMS segments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from playbook.model import MessageTemplate, Playbook, TemplateText
from playbook.records import Record
from playbook.sms import SmsInfo, sms_info


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for a channel: locale used, subject (email), text body, HTML, SMS info."""

    locale: str
    subject: str | None
    body: str
    html: str | None
    sms: SmsInfo | None


# How an intake link is introduced when a template does not place `intake_url` itself.
LINK_WORDS = {
    "nl": "Laat ons weten wat u nodig heeft:",
    "en": "Let us know what you need:",
    "ar": "أخبرونا بما تحتاجونه:",
    "tr": "Neye ihtiyacınız olduğunu bize bildirin:",
    "pl": "Potrzeby prosimy wskazać tutaj:",
    "de": "Teilen Sie uns mit, was Sie brauchen:",
    "fr": "Dites-nous ce dont vous avez besoin :",
}


def language_chain(contact_language: str | None, community_languages: Iterable[str],
                   default_locale: str) -> list[str]:
    """Languages to try in order: the contact's, the community's, the playbook's default."""
    chain = [contact_language] if contact_language else []
    chain.extend(community_languages)
    chain.append(default_locale)
    return list(dict.fromkeys(chain))


def choose_locale(template: MessageTemplate, channel: str, chain: Iterable[str],
                  default_locale: str) -> str:
    """The first language of the chain that the template has for the channel, else the default."""
    available = _texts(template, channel)
    return next((lang for lang in chain if lang in available), default_locale)


def _texts(template: MessageTemplate, channel: str) -> dict[str, TemplateText]:
    if channel == "sms":
        return template.sms or template.body
    return template.body or template.html or template.sms


def template_uses(playbook: Playbook, template_id: str, channel: str, locale: str,
                  name: str) -> bool:
    """True when the template's text for channel and locale refers to `name`."""
    template = playbook.templates[template_id]
    texts = _texts(template, channel)
    text = texts.get(locale) or texts.get(playbook.default_locale)
    return text is not None and name in text.uses


def plain(value: Any) -> Any:
    """Context values as plain read-only data: mappings become records, lists tuples."""
    if isinstance(value, Record):
        return value
    if isinstance(value, Mapping):
        return Record({str(k): plain(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    return value


def _render(text: TemplateText | None, context: dict[str, Any]) -> str | None:
    if text is None:
        return None
    rendered: str = text.template().render(context)
    return rendered


def _pick(texts: dict[str, TemplateText], locale: str, default: str) -> TemplateText | None:
    return texts.get(locale) or texts.get(default)


def _localise_label(playbook: Playbook, names: dict[str, Any], locale: str) -> None:
    """`incident.label` in the message's language when the type has it."""
    incident = names.get("incident")
    if not isinstance(incident, Record) or "type" not in incident:
        return
    itype = playbook.incident_types.get(incident["type"])
    if itype is not None and locale in itype.label:
        names["incident"] = Record({**dict(incident._data), "label": itype.label[locale]})


def render_message(playbook: Playbook, template_id: str, channel: str, *,
                   language_chain: list[str], context: Mapping[str, Any],
                   smart_encoding: bool = False) -> RenderedMessage:
    """Render a template for a channel in the first language it has of the chain.

    `smart_encoding`: SMS segments are counted as a smart-encoding Messaging Service sends them.
    """
    template = playbook.templates[template_id]
    default = playbook.default_locale
    locale = choose_locale(template, channel, language_chain, default)
    names = {key: plain(value) for key, value in context.items()}
    names.setdefault("municipality", playbook.name)
    names.setdefault("intake_url", "")
    names.setdefault("ack_url", "")
    _localise_label(playbook, names, locale)
    intake_url = str(names["intake_url"] or "")
    main = _pick(_texts(template, channel), locale, default)
    body = (_render(main, names) or "").strip()
    if intake_url and main is not None and "intake_url" not in main.uses:
        # Never a bare link: after an attack an unexplained link looks like phishing.
        line = f"{LINK_WORDS.get(locale, LINK_WORDS['en'])} {intake_url}"
        body = f"{body}\n{line}" if body else line
    if channel == "sms":
        return RenderedMessage(locale, None, body, None,
                               sms_info(body, smart_encoding=smart_encoding))
    subject = _render(_pick(template.subject, locale, default), names)
    if subject is None:
        incident = names.get("incident")
        title = incident["title"] if isinstance(incident, Record) and "title" in incident else ""
        subject = f"{playbook.name}: {title}" if title else playbook.name
    html_text = _pick(template.html, locale, default) if template.body else None
    html = _render(html_text, names) if html_text is not None else None
    if html is not None and intake_url and html_text is not None and (
        "intake_url" not in html_text.uses
    ):
        html += f'\n<p><a href="{escape(intake_url)}">{escape(intake_url)}</a></p>'
    return RenderedMessage(locale, " ".join(subject.split()), body, html, None)


def message_context(
    playbook: Playbook, incident: Any, *, community: Any = None, contact: Any = None,
    intake_url: str = "", ack_url: str = "", not_reached: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The names a template sees (PLAYBOOK.md, "templates"), as plain data.

    `incident` is a resolved IncidentInput; `community` a CommunityData; `contact` a ContactData
    (absent in staff messages); `not_reached` a list of {id, name, contacts: [{name, channel,
    address}]} for staff messages.
    """
    from playbook.builder import incident_record

    context: dict[str, Any] = {
        "incident": incident_record(playbook, incident),
        "municipality": playbook.name,
        "intake_url": intake_url or "",
        "ack_url": ack_url or "",
        "not_reached": plain(list(not_reached)),
    }
    if community is not None:
        context["community"] = Record({"id": community.id, "name": community.name,
                                       "kind": community.kind, "area": community.area})
    if contact is not None:
        context["contact"] = Record({"name": contact.name, "language": contact.language})
    return context
