"""The intake page shows a link's current answer for every kind of question, as text."""

from __future__ import annotations

import re

from starlette.datastructures import FormData, UploadFile

from engine.inbound.links import LinkView
from engine.web.app import _intake, read_answers
from playbook.model import IntakeForm, IntakeOption, IntakeQuestion

OPTIONS = (IntakeOption("a", {"en": "A"}), IntakeOption("b", {"en": "B"}))
FORM = IntakeForm("f", {"en": "Form"}, (
    IntakeQuestion("multi", "multi", {"en": "Multi"}, OPTIONS),
    IntakeQuestion("choice", "choice", {"en": "Choice"}, OPTIONS),
    IntakeQuestion("bool", "bool", {"en": "Bool"}),
    IntakeQuestion("text", "text", {"en": "Text"}),
))


def page(current: dict) -> str:
    link = LinkView("en", closed=False, used=bool(current), form=FORM, current=current)
    return bytes(_intake(link, errors=[]).body).decode()


def test_the_current_answer_is_shown_ticked_and_as_text() -> None:
    html = page({"multi": ["b"], "choice": "a", "bool": False,
                 "text": "</textarea><script>alert(1)</script>"})
    assert re.findall(r'name="(\w+)" value="(\w+)" checked', html) == [
        ("multi", "b"), ("choice", "a"), ("bool", "no")]
    assert "&lt;/textarea&gt;&lt;script&gt;" in html and "<script" not in html
    assert "A new answer replaces it." in html
    assert " checked" not in page({})


def test_a_posted_form_reads_as_the_same_answer_whatever_its_order_or_files() -> None:
    one = FormData([("multi", "b"), ("multi", "a"), ("multi", "b"), ("text", "  hi  ")])
    two = FormData([("multi", "a"), ("multi", "b"), ("text", "hi")])
    assert read_answers(FORM, one) == read_answers(FORM, two) == (
        {"multi": ["a", "b"], "text": "hi"}, [])
    upload = UploadFile(file=None, filename="x.bin")  # type: ignore[arg-type]
    assert read_answers(FORM, FormData([("text", upload), ("choice", upload)])) == ({}, [""])
