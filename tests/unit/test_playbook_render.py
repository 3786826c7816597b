"""Message rendering, language choice, the intake link, SMS segments and SMS intake answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from playbook.builder import resolve_incident
from playbook.loader import load_playbook
from playbook.model import CommunityData, ContactData, IncidentInput, Playbook
from playbook.render import language_chain, message_context, render_message, template_uses
from playbook.sms import parse_sms_answer, sms_info

DEFAULT = Path(__file__).resolve().parents[2] / "playbook" / "default" / "playbook.yaml"

YAML = """\
playbook: {id: r, version: "1", name: Teststad, default_locale: nl, timezone: Europe/Amsterdam}
incident_types:
  t: {label: {nl: Brand, en: Fire}}
rules: [{id: r, tasks: []}]
tasks: {}
templates:
  plain:
    sms:
      nl: "Hoi {{ contact.name }} van {{ community.name }}: {{ incident.title }}"
      tr: "Merhaba {{ contact.name }}"
    email:
      subject: {nl: "Over {{ incident.label }}", en: "About {{ incident.label }}"}
      body: {nl: "Beste {{ contact.name }}", en: "Dear {{ contact.name }}"}
      html: {nl: "<p>Beste {{ contact.name }}</p>", en: "<p>Dear {{ contact.name }}</p>"}
  linked:
    sms: {nl: "Vul in: {{ intake_url }} graag"}
    email:
      body: {nl: "Tekst"}
      html: {nl: "<p>Tekst</p>"}
"""


@pytest.fixture
def pb(tmp_path: Path) -> Playbook:
    path = tmp_path / "p.yaml"
    path.write_text(YAML, encoding="utf-8")
    return load_playbook(path)


def context(pb: Playbook, name: str = "Ali", intake_url: str = "") -> dict:
    incident = resolve_incident(pb, IncidentInput(type="t", declared_at=datetime.now(UTC),
                                                  title="Brand <Oost>"))
    return message_context(pb, incident,
                           community=CommunityData(id="c", name="Moskee & Co", kind="faith"),
                           contact=ContactData(id="p", community_id="c", name=name),
                           intake_url=intake_url)


def test_language_chain_order_and_dedupe() -> None:
    assert language_chain("ar", ["tr", "nl"], "nl") == ["ar", "tr", "nl"]
    assert language_chain(None, [], "nl") == ["nl"]


@pytest.mark.parametrize(("chain", "channel", "locale"), [
    (["tr", "nl"], "sms", "tr"),       # the contact's language when the template has it
    (["ar", "tr", "nl"], "sms", "tr"),  # else the community's first language that it has
    (["ar", "so"], "sms", "nl"),       # else the default locale
    (["tr"], "email", "nl"),           # email has no tr
    (["en"], "email", "en"),
])
def test_language_rule(pb: Playbook, chain: list[str], channel: str, locale: str) -> None:
    assert render_message(pb, "plain", channel, language_chain=chain,
                          context=context(pb)).locale == locale


def test_sms_and_plain_text_are_not_escaped(pb: Playbook) -> None:
    message = render_message(pb, "plain", "sms", language_chain=["nl"],
                             context=context(pb, name="<b>Ali</b>"))
    assert message.body == "Hoi <b>Ali</b> van Moskee & Co: Brand <Oost>"
    assert message.subject is None and message.html is None and message.sms is not None
    email = render_message(pb, "plain", "email", language_chain=["en"],
                           context=context(pb, name="<b>Ali</b>"))
    assert email.subject == "About Fire"
    assert email.body == "Dear <b>Ali</b>"


def test_html_is_autoescaped(pb: Playbook) -> None:
    email = render_message(pb, "plain", "email", language_chain=["nl"],
                           context=context(pb, name="<script>x</script>"))
    assert email.html == "<p>Beste &lt;script&gt;x&lt;/script&gt;</p>"


def test_intake_url_is_appended_when_the_template_does_not_use_it(pb: Playbook) -> None:
    url = "https://example.org/i/abc"
    message = render_message(pb, "plain", "sms", language_chain=["nl"],
                             context=context(pb, intake_url=url))
    # introduced in words, never a bare link (which looks like phishing after an attack)
    assert message.body.endswith("\nLaat ons weten wat u nodig heeft: " + url)
    assert not template_uses(pb, "plain", "sms", "nl", "intake_url")
    email = render_message(pb, "plain", "email", language_chain=["nl"],
                           context=context(pb, intake_url=url))
    assert email.body.endswith(url) and url in (email.html or "")


def test_intake_url_stays_where_the_template_uses_it(pb: Playbook) -> None:
    url = "https://example.org/i/abc"
    message = render_message(pb, "linked", "sms", language_chain=["nl"],
                             context=context(pb, intake_url=url))
    assert message.body == f"Vul in: {url} graag"
    assert template_uses(pb, "linked", "sms", "nl", "intake_url")


def test_no_intake_url_adds_nothing(pb: Playbook) -> None:
    message = render_message(pb, "plain", "sms", language_chain=["nl"], context=context(pb))
    assert "http" not in message.body


# --- SMS segments --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "encoding", "segments", "units"), [
    ("a" * 160, "GSM-7", 1, 160),
    ("a" * 161, "GSM-7", 2, 161),
    ("a" * 306, "GSM-7", 2, 306),
    ("a" * 307, "GSM-7", 3, 307),
    ("€" * 80, "GSM-7", 1, 160),         # extension characters count two
    ("€" * 81, "GSM-7", 2, 162),
    ("a" * 152 + "€", "GSM-7", 1, 154),
    ("a" * 159 + "[", "GSM-7", 2, 161),  # an escape pair is never split
    ("ı" * 70, "UCS-2", 1, 70),
    ("ı" * 71, "UCS-2", 2, 71),
    ("ش" * 134, "UCS-2", 2, 134),
    ("ش" * 135, "UCS-2", 3, 135),
    ("", "GSM-7", 1, 0),
])
def test_sms_segments(text: str, encoding: str, segments: int, units: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_non_latin_text_is_kept_not_replaced(tmp_path: Path) -> None:
    pb = load_playbook(DEFAULT)
    incident = resolve_incident(pb, IncidentInput(type="hate_crime", declared_at=datetime.now(UTC),
                                                  fields={"targeted_group": "x"}))
    for locale in ("ar", "tr"):
        message = render_message(pb, "first_contact", "sms", language_chain=[locale],
                                 context=message_context(pb, incident))
        assert message.locale == locale
        assert {"ar": "بلدية", "tr": "Nasılsınız"}[locale] in message.body  # not "?"-replaced
        assert message.sms is not None and message.sms.encoding == "UCS-2"
    arabic = render_message(pb, "first_contact", "sms", language_chain=["ar"],
                            context=message_context(pb, incident))
    assert "نعم" in arabic.body


# --- intake answers by SMS -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1", ["security"]), ("1 3", ["security", "aftercare"]), ("1,3", ["security", "aftercare"]),
    (" 2 ; 4 ", ["conversation", "nothing_now"]), ("13", ["security", "aftercare"]),
    ("3 3", ["aftercare"]), ("١ ٣", ["security", "aftercare"]),
])
def test_parse_sms_answer(text: str, expected: list[str]) -> None:
    form = load_playbook(DEFAULT).intake_forms["needs"]
    assert parse_sms_answer(form, text) == {"needs": expected}


@pytest.mark.parametrize("text", ["", "OK", "9", "1 9", "ja graag", "1 en 2"])
def test_parse_sms_answer_refuses_other_text(text: str) -> None:
    form = load_playbook(DEFAULT).intake_forms["needs"]
    assert parse_sms_answer(form, text) is None


def test_templates_cannot_include_other_files(tmp_path: Path) -> None:
    from playbook.errors import PlaybookError

    path = tmp_path / "p.yaml"
    path.write_text(YAML.replace('tr: "Merhaba {{ contact.name }}"',
                                 "tr: \"{% include '/etc/passwd' %}\""), encoding="utf-8")
    with pytest.raises(PlaybookError, match="include"):
        load_playbook(path)
