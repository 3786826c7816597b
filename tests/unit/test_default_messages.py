"""Messages a key figure trusts (issue 12, point 6): the default playbook in five languages,
SMS naming the incident type in the reader's language (never the free title), links introduced
in words, lengths that stay sensible; intake options that set things in motion."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from playbook.errors import PlaybookError
from playbook.loader import load_playbook
from playbook.model import IncidentInput
from playbook.render import LINK_WORDS, message_context, render_message

ROOT = Path(__file__).resolve().parents[2]
PB = load_playbook(ROOT / "playbook" / "default" / "playbook.yaml")
LANGUAGES = ("nl", "en", "ar", "tr", "pl")
STAFF = ("not_reached_staff", "need_stated")
TITLE = "Vernieling bij moskee / vandalism at a mosque"
URL = "https://verbinder.voorbeeldstad.example.org/i/" + "x" * 43
INTRO = {  # how each language introduces the needs link
    "nl": "Laat ons weten wat u nodig heeft:", "en": "Let us know what you need:",
    "ar": "أخبرونا بما تحتاجونه:", "tr": "İhtiyaçlarınızı bize bildirin:",
    "pl": "Potrzeby prosimy wskazać tutaj:",
}


def incident(type_: str) -> IncidentInput:
    return IncidentInput(type=type_, declared_at=datetime(2026, 3, 1, tzinfo=UTC), title=TITLE,
                         fields={})


def sms(template: str, type_: str, locale: str, intake_url: str = URL) -> object:
    return render_message(PB, template, "sms", language_chain=[locale],
                          context=message_context(PB, incident(type_), intake_url=intake_url))


def test_every_template_form_and_label_speaks_the_five_languages() -> None:
    for template in PB.templates.values():
        for part, texts in (("sms", template.sms), ("subject", template.subject),
                            ("body", template.body)):
            assert set(LANGUAGES) <= set(texts), (template.id, part, sorted(texts))
    for itype in PB.incident_types.values():
        assert set(LANGUAGES) <= set(itype.label), itype.id
    form = PB.intake_forms["needs"]
    assert set(LANGUAGES) <= set(form.title)
    for question in form.questions:
        assert set(LANGUAGES) <= set(question.label)
        for option in question.options:
            assert set(LANGUAGES) <= set(option.label), option.id


@pytest.mark.parametrize("locale", LANGUAGES)
def test_sms_to_communities_name_the_type_in_their_language_never_the_title(
        locale: str) -> None:
    for template in PB.templates:
        if template in STAFF:
            continue
        for type_, itype in PB.incident_types.items():
            message = sms(template, type_, locale)
            assert message.locale == locale
            assert "moskee" not in message.body.lower() and "mosque" not in message.body
            if template in ("first_contact", "bridging_invite", "informed_update"):
                assert itype.label[locale] in message.body, (template, type_)
            for other in LANGUAGES:  # no other language's label mixed in
                if other != locale and itype.label[other] != itype.label[locale]:
                    assert itype.label[other] not in message.body


@pytest.mark.parametrize("locale", LANGUAGES)
def test_a_link_in_an_sms_is_always_introduced_in_words(locale: str) -> None:
    for template in PB.templates:
        if template in STAFF:
            continue
        body = sms(template, "hate_crime", locale).body
        before = body[:body.index(URL)].rstrip()
        assert before.endswith(":"), (template, locale, body)
        assert len(before.split()) >= 2  # words, not a bare link after a sentence
        if template != "needs_intake":
            assert INTRO[locale] + " " + URL in body
        assert URL not in sms(template, "hate_crime", locale, intake_url="").body


def test_a_template_without_the_link_gets_it_introduced_in_its_language() -> None:
    assert set(LANGUAGES) <= set(LINK_WORDS)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_sms_lengths_stay_sensible_with_the_link(locale: str) -> None:
    """At most 2 segments in GSM-7 (Dutch, English), 4 in UCS-2 (Arabic, Turkish, Polish),
    with the needs link of a realistic length in every text."""
    for template in PB.templates:
        if template in STAFF:
            continue
        for type_ in PB.incident_types:
            info = sms(template, type_, locale).sms
            limit = 2 if info.encoding == "GSM-7" else 4
            if template in ("bridging_invite", "informed_update"):  # sent without a link
                info = sms(template, type_, locale, intake_url="").sms
                limit = 2 if info.encoding == "GSM-7" else 3
            assert info.segments <= limit, (template, type_, locale, info)


def test_staff_are_alerted_in_words_without_the_free_text() -> None:
    answers = {"needs": {"question": "needs", "label": "Waar kunnen wij bij helpen?",
                         "options": ["security", "aftercare"],
                         "texts": ["Beveiliging", "Nazorg"], "text": "Beveiliging, Nazorg"},
               "remarks": {"question": "remarks", "label": "Wilt u nog iets kwijt?",
                           "options": [], "texts": [], "text": "Er staan mensen voor de deur"}}
    context = message_context(PB, incident("attack_on_place_of_worship"))
    context["answers"] = answers
    context["community"] = {"id": "c1", "name": "Moskee An-Nour"}
    text = render_message(PB, "need_stated", "sms", language_chain=["nl"], context=context)
    assert "Moskee An-Nour vraagt om: Beveiliging, Nazorg." in text.body
    assert "deur" not in text.body
    email = render_message(PB, "need_stated", "email", language_chain=["nl"], context=context)
    assert "- Wilt u nog iets kwijt?: Er staan mensen voor de deur" in email.body


def test_the_default_needs_form_sets_security_in_motion_for_on_call() -> None:
    security = next(o for o in PB.intake_forms["needs"].questions[0].options
                    if o.id == "security")
    assert security.task == "arrange-security"
    assert PB.tasks["arrange-security"].kind == "action"
    assert PB.tasks["arrange-security"].owner == "oncall"
    assert security.alert is not None
    assert (security.alert.notify, security.alert.template) == ("oncall", "need_stated")


BASE = """
playbook: {id: t, version: "1", default_locale: nl, timezone: Europe/Amsterdam}
incident_types: {x: {label: {nl: X}}}
rules: [{id: r, tasks: [visit]}]
tasks:
  visit: {title: {nl: Bezoek}, due: 1h, kind: action, owner: oncall}
  ask: {title: {nl: Vraag}, due: 1h, kind: intake, intake_form: needs}
templates:
  said: {sms: {nl: "Gevraagd"}}
intake_forms:
  needs:
    questions:
      - id: needs
        type: multi
        options:
          - OPTION
"""


def load_with(option: str, tmp_path: Path) -> object:
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("OPTION", option), encoding="utf-8")
    return load_playbook(path)


def test_an_option_may_add_an_action_task_and_alert_staff(tmp_path: Path) -> None:
    pb = load_with("{id: a, label: {nl: A}, task: visit, alert: {notify: liaison, "
                   "template: said}}", tmp_path)
    option = pb.intake_forms["needs"].questions[0].options[0]  # type: ignore[attr-defined]
    assert option.task == "visit" and option.alert.notify == "liaison"


@pytest.mark.parametrize(("option", "problem"), [
    ("{id: a, task: vist}", "unknown task 'vist' (did you mean 'visit'?)"),
    ("{id: a, task: ask}", "task 'ask' must be of kind action (it is intake)"),
    ("{id: a, alert: {notify: primary, template: said}}", "alert: unknown audience 'primary'"),
    ("{id: a, alert: {notify: oncall, template: sad}}", "alert: unknown template 'sad'"),
    ("{id: a, alert: {notify: oncall}}", "alert: template: required"),
    ("{id: a, alert: {notify: oncall, template: said, when: now}}", "unknown key"),
])
def test_a_wrong_option_effect_is_a_load_error(tmp_path: Path, option: str,
                                               problem: str) -> None:
    with pytest.raises(PlaybookError) as refused:
        load_with(option, tmp_path)
    text = str(refused.value)
    assert problem in text, text
    assert "p.yaml:" in text
