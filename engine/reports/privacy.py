"""What an export without `--include-pii` leaves out of the timeline.

Events hold no phone number or email address (engine.audit.events), but some hold free text
that anyone may have typed: an SMS reply (`text`), a staff note (`note`), and the free-text
answers of an intake form (`answers`, `previous`). Keys are kept by name: a key this module
does not know is left out unless its value is a number, a truth value or nothing, so that a
new kind of event cannot leak text into an export before someone has looked at it.
Identifiers (`contact:p001`, `staff:st-1`) stay: they are pseudonyms that only the registry,
which the export does not hold, can resolve.
"""

from __future__ import annotations

from typing import Any

from playbook.model import IntakeForm, IntakeQuestion

# Keys whose values are codes, counts, ids or times written by the engine itself.
SAFE_KEYS = frozenset({
    "message", "channel", "step", "recipient", "recipients", "attempts", "detail",
    "next_attempt_at", "timer", "notify", "late_seconds", "reason", "via", "type", "severity",
    "exercise", "communities", "playbook", "warnings", "timers_stopped", "messages_cancelled",
    "task", "form", "source", "status", "error_code", "format", "pii", "what", "output",
    "resends", "kinds", "count", "lang",
})
# Keys holding intake answers: kept for choices, free text left out.
ANSWER_KEYS = frozenset({"answers", "previous"})
# `note` of a timer event is a code (nobody_on_call, no_liaison); of anything else, free text.
CODE_NOTES = frozenset({"nobody_on_call", "no_liaison", None})


def redact_event(kind: str, data: dict[str, Any],
                 forms: dict[str, IntakeForm]) -> tuple[dict[str, Any], list[str]]:
    """The event's data without personal free text, and the keys that were left out."""
    kept: dict[str, Any] = {}
    removed: list[str] = []
    for key, value in data.items():
        if key in ANSWER_KEYS and isinstance(value, dict):
            kept[key], gone = redact_answers(value, forms.get(str(data.get("form"))))
            removed += [f"{key}.{q}" for q in gone]
        elif _safe(kind, key, value):
            kept[key] = value
        else:
            removed.append(key)
    return kept, removed


def _safe(kind: str, key: str, value: Any) -> bool:
    if key == "note":
        return kind.startswith("timer.") and value in CODE_NOTES
    return key in SAFE_KEYS or value is None or isinstance(value, bool | int | float)


def redact_answers(answers: dict[str, Any],
                   form: IntakeForm | None) -> tuple[dict[str, Any], list[str]]:
    """Answers with only the options chosen (ids the form defines) and truth values."""
    questions = {q.id: q for q in form.questions} if form else {}
    kept: dict[str, Any] = {}
    removed: list[str] = []
    for qid, value in answers.items():
        if _is_choice(questions.get(qid), value):
            kept[qid] = value
        else:
            removed.append(qid)
    return kept, removed


def _is_choice(question: IntakeQuestion | None, value: Any) -> bool:
    """Whether an answer is a choice the form defines (not free text)."""
    if question is None:
        return False
    options = {o.id for o in question.options}
    if question.type == "bool":
        return isinstance(value, bool)
    if question.type == "choice":
        return isinstance(value, str) and value in options
    if question.type == "multi":
        return isinstance(value, list) and all(v in options for v in value)
    return False


def chosen_options(answers: dict[str, Any], form: IntakeForm | None) -> list[tuple[str, str]]:
    """The (question id, option id) pairs chosen in an answer, in the form's order."""
    if form is None:
        return []
    out: list[tuple[str, str]] = []
    for q in form.questions:
        value = answers.get(q.id)
        if q.type == "multi" and isinstance(value, list):
            out += [(q.id, o.id) for o in q.options if o.id in value]
        elif q.type == "choice" and isinstance(value, str):
            out += [(q.id, o.id) for o in q.options if o.id == value]
    return out


def free_texts(answers: dict[str, Any], form: IntakeForm | None) -> list[str]:
    """The free-text answers (personal data: only for exports with personal data)."""
    if form is None:
        return []
    return [str(answers[q.id]) for q in form.questions
            if q.type == "text" and isinstance(answers.get(q.id), str) and answers[q.id]]
