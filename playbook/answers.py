"""Intake answers in words, and what the chosen options set in motion (PLAYBOOK.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from playbook.model import IntakeForm, IntakeOption


def chosen_options(form: IntakeForm, answers: Mapping[str, Any]
                   ) -> list[tuple[str, IntakeOption]]:
    """The options an answer chose, as (question id, option), in the form's order."""
    out: list[tuple[str, IntakeOption]] = []
    for question in form.questions:
        value = answers.get(question.id)
        ids = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        out.extend((question.id, o) for o in question.options if o.id in ids)
    return out


def _label(labels: Mapping[str, str], locale: str, fallback: str) -> str:
    return labels.get(locale) or labels.get("en") or next(iter(labels.values()), fallback)


def answers_in_words(form: IntakeForm | None, answers: Mapping[str, Any],
                     locales: Iterable[str] = ("nl", "en")) -> list[dict[str, Any]]:
    """Each answered question: its id, its label and the chosen options' labels per locale
    (`words`), the option ids, and free text or yes/no as given."""
    locales = tuple(locales)
    out: list[dict[str, Any]] = []
    questions = {q.id: q for q in form.questions} if form is not None else {}
    for qid, value in answers.items():
        question = questions.get(qid)
        entry: dict[str, Any] = {"question": qid, "options": [], "text": None,
                                 "label": {}, "words": {}}
        if question is not None:
            entry["label"] = {loc: _label(question.label, loc, qid) for loc in locales}
        if question is not None and question.type in ("choice", "multi"):
            ids = [value] if isinstance(value, str) else list(value or [])
            picked = [o for o in question.options if o.id in ids]
            entry["options"] = [o.id for o in picked]
            entry["words"] = {loc: ", ".join(_label(o.label, loc, o.id) for o in picked)
                              for loc in locales}
        elif isinstance(value, bool):
            entry["words"] = {loc: {"nl": "ja" if value else "nee"}.get(
                loc, "yes" if value else "no") for loc in locales}
        else:
            entry["text"] = str(value)
        out.append(entry)
    return out
