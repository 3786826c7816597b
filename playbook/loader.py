"""Load and validate a playbook (PLAYBOOK.md): every problem with its file, line and column."""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateSyntaxError, nodes

from playbook import codecache
from playbook.durations import HINT, parse_duration
from playbook.errors import PlaybookError, Problem
from playbook.expressions import HTML_ENV, TEXT_ENV, ExpressionError, compile_expression
from playbook.locales import ISO_639_1, is_language_code
from playbook.model import (
    NOTIFY_TARGETS,
    ROLES,
    STAFF_TARGETS,
    TASK_KINDS,
    TASK_OWNERS,
    WEEKDAYS,
    Cadence,
    DigestSchedule,
    Duration,
    EscalationPolicy,
    FieldSpec,
    IncidentType,
    IntakeAlert,
    IntakeForm,
    IntakeOption,
    IntakeQuestion,
    MessageTemplate,
    Peacetime,
    Playbook,
    Rule,
    Step,
    Task,
    TemplateText,
)
from playbook.yamlpos import Y, parse_yaml

TOP_KEYS = ("playbook", "defaults", "incident_types", "rules", "tasks", "escalation_policies",
            "intake_forms", "templates", "peacetime")
ID_PATTERN = re.compile(r"^[a-z0-9_-]+$")
FIELD_TYPES = ("string", "int", "bool", "enum", "community", "tag")
QUESTION_TYPES = ("choice", "multi", "text", "bool")
TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".txt", ".html", ".md")
MAX_REPEAT = 5

def is_template_path(text: str) -> bool:
    """True when a template value names a file rather than holding the text inline."""
    return (
        bool(text)
        and not any(c.isspace() for c in text)
        and "{" not in text
        and text.lower().endswith(TEMPLATE_SUFFIXES)
    )


def compute_digest(files: dict[str, str], main: str) -> str:
    """SHA-256 of the YAML file, then of every template file in path order (defined order)."""
    digest = hashlib.sha256(files[main].encode("utf-8"))
    for path in sorted(p for p in files if p != main):
        digest.update(b"\n\x00" + path.encode("utf-8") + b"\x00")
        digest.update(files[path].encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def load_playbook(path: str | Path) -> Playbook:
    """Load a playbook YAML file and the template files it names; PlaybookError on problems."""
    main_path = Path(path)
    display = str(path)
    folder = main_path.parent
    try:
        main_text = main_path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PlaybookError([Problem(display, 1, 1, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise PlaybookError([Problem(display, 1, 1, f"not UTF-8: {exc.reason}")]) from None
    except OSError as exc:
        raise PlaybookError([Problem(display, 1, 1, f"cannot read: {exc.strerror}")]) from None

    def read(rel: str) -> str | None:
        try:
            return (folder / rel).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def shown(rel: str) -> str:
        return str(folder / rel) if str(folder) not in ("", ".") else rel

    return _Loader(main_path.name, main_text, read, display, shown).load()


def load_playbook_files(files: dict[str, str], main: str) -> Playbook:
    """Load a playbook from its frozen files ({relative path: text}) alone."""
    if main not in files:
        raise PlaybookError([Problem(main, 1, 1, "file not found")])
    folder = posixpath.dirname(main)

    def read(rel: str) -> str | None:
        return files.get(posixpath.join(folder, rel) if folder else rel)

    def shown(rel: str) -> str:
        return posixpath.join(folder, rel) if folder else rel

    return _Loader(main, files[main], read, main, shown).load()


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _checked_text(env: Any, source: str, html: bool) -> frozenset[str]:
    """Parse a message text and return the names it reads (TemplateSyntaxError when it may not
    be used); a text that also compiles is kept in the code cache with those names."""
    tree = env.parse(source)
    # names read by the text; cheaper than meta.find_undeclared_variables (codegen)
    uses = frozenset(n.name for n in tree.find_all(nodes.Name) if n.ctx == "load")
    if tree.find(nodes.Extends) or tree.find(nodes.Include) or tree.find(nodes.Import) \
            or tree.find(nodes.FromImport):
        raise TemplateSyntaxError("extends, include and import are not supported",
                                  tree.lineno or 1)
    try:
        code = env.compile(tree)
    except Exception:  # e.g. an unknown filter: found when the text is rendered, as before
        return uses
    codecache.current().put("html" if html else "text", source, (code, tuple(sorted(uses))))
    return uses


class _Loader:
    def __init__(self, main: str, text: str, read: Callable[[str], str | None], display: str,
                 shown: Callable[[str], str]) -> None:
        self.main = main
        self.text = text
        self.read = read
        self.display = display
        self.shown = shown
        self.problems: list[Problem] = []
        self.template_files: dict[str, str] = {}  # relative to the YAML folder -> text
        self.default_locale = "nl"
        self.task_kinds: dict[str, str] = {}  # task id -> kind, for intake options

    # --- helpers ------------------------------------------------------------------------------

    def err(self, at: Y, message: str) -> None:
        self.problems.append(at.problem(message))

    def key_err(self, at: Y, message: str) -> None:
        self.problems.append(at.key_problem(message))

    def mapping(self, y: Y | None, where: str, allowed: tuple[str, ...]) -> dict[str, Y]:
        """The entries of a mapping, reporting unknown keys; `x-` keys are dropped."""
        if y is None:
            return {}
        if not y.is_map:
            self.err(y, f"{where}: must be a mapping")
            return {}
        out: dict[str, Y] = {}
        for key, value in y.value.items():
            if key.startswith("x-"):
                continue
            if key not in allowed:
                self.key_err(value, f"{where}: unknown key '{key}'{_suggest(key, allowed)}")
                continue
            out[key] = value
        return out

    def entries(self, y: Y | None, where: str) -> dict[str, Y]:
        """The entries of a mapping of named things (ids are free), `x-` keys dropped."""
        if y is None or y.value is None:
            return {}
        if not y.is_map:
            self.err(y, f"{where}: must be a mapping")
            return {}
        return {k: v for k, v in y.value.items() if not k.startswith("x-")}

    def items(self, y: Y | None, where: str) -> list[Y]:
        if y is None or y.value is None:
            return []
        if not y.is_list:
            self.err(y, f"{where}: must be a list")
            return []
        return list(y.value)

    def string(self, y: Y | None, where: str, required: bool = False,
               parent: Y | None = None) -> str | None:
        if y is None or y.value is None:
            if required:
                at = y or parent
                if at is not None:
                    self.key_err(at, f"{where}: required")
            return None
        if not y.is_scalar:
            self.err(y, f"{where}: must be a text value")
            return None
        return y.text()

    def integer(self, y: Y | None, where: str, low: int, high: int) -> int | None:
        if y is None or y.value is None:
            return None
        if isinstance(y.value, bool) or not isinstance(y.value, int):
            self.err(y, f"{where}: must be a whole number from {low} to {high}")
            return None
        if not low <= y.value <= high:
            self.err(y, f"{where}: {y.value} is out of range {low}..{high}")
            return None
        return y.value

    def boolean(self, y: Y | None, where: str) -> bool:
        if y is None or y.value is None:
            return False
        if not isinstance(y.value, bool):
            self.err(y, f"{where}: must be true or false")
            return False
        return y.value

    def duration(self, y: Y | None, where: str, parent: Y | None = None,
                 required: bool = False) -> Duration | None:
        if y is None or y.value is None:
            if required and parent is not None:
                self.key_err(parent, f"{where}: required")
            return None
        if y.value == 0 and not isinstance(y.value, bool):
            return Duration()
        text = y.text() if y.is_scalar else None
        try:
            if text is None:
                raise ValueError(f"bad duration: {HINT}")
            return parse_duration(text)
        except ValueError as exc:
            self.err(y, f"{where}: {exc}")
            return None

    def labels(self, y: Y | None, where: str, fallback: str | None = None) -> dict[str, str]:
        """A text per locale; a plain string counts as the default locale's text."""
        if y is None or y.value is None:
            return {self.default_locale: fallback} if fallback is not None else {}
        if y.is_scalar:
            return {self.default_locale: y.text() or ""}
        if not y.is_map:
            self.err(y, f"{where}: must be a text or a mapping of language codes to texts")
            return {}
        out: dict[str, str] = {}
        for locale, text in y.value.items():
            if locale.startswith("x-"):
                continue
            if not is_language_code(locale):
                self.key_err(text, f"{where}: '{locale}' is not a language code")
                continue
            value = self.string(text, f"{where}.{locale}")
            if value is not None:
                out[locale] = value
        if out and self.default_locale not in out:
            self.key_err(y, f"{where}: missing the default locale '{self.default_locale}'")
        return out

    # --- sections -----------------------------------------------------------------------------

    def load(self) -> Playbook:
        root, problems = parse_yaml(self.text, self.display)
        self.problems.extend(problems)
        if root is None:
            raise PlaybookError(self.problems)
        if not root.is_map:
            self.err(root, "the playbook must be a mapping with the keys " + ", ".join(TOP_KEYS))
            raise PlaybookError(self.problems)
        top = self.mapping(root, "top level", TOP_KEYS)
        for key in ("playbook", "incident_types", "rules", "tasks"):
            if key not in top:
                self.err(root, f"missing required top-level key '{key}'")
        meta_values = self.meta(top.get("playbook"))
        names = {
            "tasks": set(self.entries(top.get("tasks"), "tasks")),
            "policies": set(self.entries(top.get("escalation_policies"), "escalation_policies")),
            "forms": set(self.entries(top.get("intake_forms"), "intake_forms")),
            "templates": set(self.entries(top.get("templates"), "templates")),
        }
        incident_types = self.incident_types(top.get("incident_types"))
        templates = self.templates(top.get("templates"))
        policies = self.policies(top.get("escalation_policies"), names["templates"])
        tasks = self.tasks(top.get("tasks"), names)
        self.task_kinds = {tid: task.kind for tid, task in tasks.items()}
        forms = self.intake_forms(top.get("intake_forms"), names)
        rules = self.rules(top.get("rules"), names)
        default_escalation = self.defaults(top.get("defaults"), names["policies"])
        peacetime = self.peacetime(top.get("peacetime"))
        codecache.current().save()
        if self.problems:
            raise PlaybookError(self.problems)
        files = {self.main: self.text}
        folder = posixpath.dirname(self.main)
        for rel, text in self.template_files.items():
            files[posixpath.join(folder, rel) if folder else rel] = text
        return Playbook(
            id=meta_values["id"], version=meta_values["version"], name=meta_values["name"],
            default_locale=self.default_locale, timezone=meta_values["timezone"],
            incident_types=incident_types, rules=tuple(rules), tasks=tasks, policies=policies,
            intake_forms=forms, templates=templates, files=files, main=self.main,
            digest=compute_digest(files, self.main), default_escalation=default_escalation,
            peacetime=peacetime,
        )

    def meta(self, y: Y | None) -> dict[str, str]:
        fields = self.mapping(y, "playbook", ("id", "version", "name", "default_locale",
                                              "timezone"))
        out = {"id": "", "version": "", "name": "", "timezone": "Europe/Amsterdam"}
        if y is None:
            return out
        pid = self.string(fields.get("id"), "playbook.id", required=True, parent=y)
        if pid is not None and not ID_PATTERN.match(pid):
            self.err(fields["id"], f"playbook.id: '{pid}' must match [a-z0-9_-]+")
        out["id"] = pid or ""
        out["version"] = self.string(fields.get("version"), "playbook.version",
                                     required=True, parent=y) or ""
        locale = self.string(fields.get("default_locale"), "playbook.default_locale",
                             required=True, parent=y)
        if locale is not None:
            if locale not in ISO_639_1:
                self.err(fields["default_locale"],
                         f"playbook.default_locale: '{locale}' is not an ISO 639-1 code")
            else:
                self.default_locale = locale
        tz = self.string(fields.get("timezone"), "playbook.timezone", required=True, parent=y)
        if tz is not None:
            try:
                ZoneInfo(tz)
                out["timezone"] = tz
            except (ZoneInfoNotFoundError, ValueError):
                self.err(fields["timezone"], f"playbook.timezone: '{tz}' is not an IANA time zone")
        out["name"] = self.string(fields.get("name"), "playbook.name") or out["id"]
        return out

    def defaults(self, y: Y | None, policies: set[str]) -> str | None:
        fields = self.mapping(y, "defaults", ("escalation",))
        name = self.string(fields.get("escalation"), "defaults.escalation")
        if name is not None and name not in policies:
            hint = _suggest(name, sorted(policies))
            self.err(fields["escalation"], f"defaults.escalation: unknown policy '{name}'{hint}")
        return name

    # --- peace time ---------------------------------------------------------------------------

    def peacetime(self, y: Y | None) -> Peacetime | None:
        """The optional `peacetime:` section (docs/PEACETIME.md)."""
        if y is None:
            return None
        fields = self.mapping(y, "peacetime", ("cadence", "due_within", "digest"))
        cadences = tuple(c for n, cy in enumerate(self.items(fields.get("cadence"),
                                                             "peacetime.cadence"))
                         if (c := self.cadence(cy, f"peacetime.cadence[{n}]")) is not None)
        within = self.duration(fields.get("due_within"), "peacetime.due_within")
        return Peacetime(cadences=cadences, due_within=within or Duration(days=14),
                         digest=self.digest_schedule(fields.get("digest")))

    def cadence(self, y: Y, where: str) -> Cadence | None:
        fields = self.mapping(y, where, ("kind", "tag", "every", "roles"))
        if not y.is_map:
            return None
        kind = self.string(fields.get("kind"), f"{where}.kind")
        tag = self.string(fields.get("tag"), f"{where}.tag")
        if (kind is None) == (tag is None):
            self.key_err(y, f"{where}: needs exactly one of 'kind' or 'tag'")
        every = self.duration(fields.get("every"), f"{where}.every", parent=y, required=True)
        if every is not None and every.nominal.total_seconds() < 86400:
            self.err(fields["every"], f"{where}.every: at least one day (1d)")
            every = None
        roles = []
        for n, ry in enumerate(self.items(fields.get("roles"), f"{where}.roles")):
            role = self.string(ry, f"{where}.roles[{n}]")
            if role is not None and not role.strip():
                self.err(ry, f"{where}.roles[{n}]: must not be empty")
            elif role is not None:
                roles.append(role.strip().casefold())
        if every is None or (kind is None) == (tag is None):
            return None
        return Cadence(every=every, kind=kind, tag=tag, roles=tuple(roles))

    def digest_schedule(self, y: Y | None) -> DigestSchedule:
        fields = self.mapping(y, "peacetime.digest", ("every", "weekday", "hour"))
        every = self.string(fields.get("every"), "peacetime.digest.every") or "weekly"
        if every not in ("weekly", "daily"):
            self.err(fields["every"], f"peacetime.digest.every: '{every}' must be weekly or "
                     f"daily{_suggest(every, ('weekly', 'daily'))}")
            every = "weekly"
        day = self.string(fields.get("weekday"), "peacetime.digest.weekday") or "monday"
        if day.casefold() not in WEEKDAYS:
            self.err(fields["weekday"], f"peacetime.digest.weekday: '{day}' is no weekday "
                     f"(monday .. sunday){_suggest(day.casefold(), WEEKDAYS)}")
            day = "monday"
        if every == "daily" and "weekday" in fields:
            self.err(fields["weekday"], "peacetime.digest.weekday: only with every: weekly")
        hour = self.integer(fields.get("hour"), "peacetime.digest.hour", 0, 23)
        return DigestSchedule(every=every, weekday=WEEKDAYS.index(day.casefold()),
                              hour=8 if hour is None else hour)

    def incident_types(self, y: Y | None) -> dict[str, IncidentType]:
        out: dict[str, IncidentType] = {}
        entries = self.entries(y, "incident_types")
        if y is not None and not entries and (y.is_map or y.value is None):
            self.key_err(y, "incident_types: at least one incident type is required")
        for tid, ty in entries.items():
            where = f"incident type '{tid}'"
            if not ID_PATTERN.match(tid):
                self.key_err(ty, f"{where}: the id must match [a-z0-9_-]+")
            fields = self.mapping(ty, where, ("label", "default_severity", "fields"))
            label = self.labels(fields.get("label"), f"{where}: label", fallback=tid)
            severity = self.integer(fields.get("default_severity"), f"{where}: default_severity",
                                    1, 5)
            specs: dict[str, FieldSpec] = {}
            for fname, fy in self.entries(fields.get("fields"), f"{where}: fields").items():
                spec = self.field_spec(fname, fy, f"{where}: field '{fname}'")
                if spec is not None:
                    specs[fname] = spec
            out[tid] = IncidentType(id=tid, label=label, default_severity=severity or 3,
                                    fields=specs)
        return out

    def field_spec(self, name: str, y: Y, where: str) -> FieldSpec | None:
        fields = self.mapping(y, where, ("type", "required", "values", "label"))
        if not y.is_map:
            return None
        ftype = self.string(fields.get("type"), f"{where}: type", required=True, parent=y)
        if ftype is not None and ftype not in FIELD_TYPES:
            self.err(fields["type"], f"{where}: unknown field type '{ftype}' "
                     f"(use {', '.join(FIELD_TYPES)}){_suggest(ftype, FIELD_TYPES)}")
            ftype = None
        values = tuple(
            v for v in (self.string(v, f"{where}: values") for v in
                        self.items(fields.get("values"), f"{where}: values")) if v is not None
        )
        if ftype == "enum" and not values:
            self.key_err(fields.get("values") or y, f"{where}: an enum needs a list of values")
        if ftype not in (None, "enum") and "values" in fields:
            self.err(fields["values"], f"{where}: values are only for type enum")
        if len(set(values)) != len(values):
            self.err(fields["values"], f"{where}: values repeat")
        required = self.boolean(fields.get("required"), f"{where}: required")
        if ftype is None:
            return None
        return FieldSpec(name=name, type=ftype, required=required, values=values)

    def tasks(self, y: Y | None, names: dict[str, set[str]]) -> dict[str, Task]:
        out: dict[str, Task] = {}
        for tid, ty in self.entries(y, "tasks").items():
            where = f"task '{tid}'"
            fields = self.mapping(ty, where, ("title", "due", "kind", "owner", "template",
                                              "intake_form", "description"))
            title = self.labels(fields.get("title"), f"{where}: title", fallback=tid)
            due = self.duration(fields.get("due"), f"{where}: due")
            kind = self.string(fields.get("kind"), f"{where}: kind") or "action"
            if kind not in TASK_KINDS:
                self.err(fields["kind"], f"{where}: unknown kind '{kind}' "
                         f"(use {', '.join(TASK_KINDS)}){_suggest(kind, TASK_KINDS)}")
            owner = self.string(fields.get("owner"), f"{where}: owner")
            if owner is not None and owner not in TASK_OWNERS:
                self.err(fields["owner"], f"{where}: unknown owner '{owner}' "
                         f"(use {', '.join(TASK_OWNERS)})")
            template = self.string(fields.get("template"), f"{where}: template")
            form = self.string(fields.get("intake_form"), f"{where}: intake_form")
            self.task_kind_rules(ty, fields, where, kind, template, form, names)
            out[tid] = Task(id=tid, title=title, due=due or Duration(), kind=kind, owner=owner,
                            template=template, intake_form=form)
        return out

    def task_kind_rules(self, ty: Y, fields: dict[str, Y], where: str, kind: str,
                        template: str | None, form: str | None,
                        names: dict[str, set[str]]) -> None:
        if kind == "followup" and template is None:
            self.key_err(ty, f"{where}: a followup task needs a template")
        if kind != "followup" and template is not None:
            self.err(fields["template"], f"{where}: template is only for followup tasks")
        if kind == "intake" and form is None:
            self.key_err(ty, f"{where}: an intake task needs an intake_form")
        if kind != "intake" and form is not None:
            self.err(fields["intake_form"], f"{where}: intake_form is only for intake tasks")
        if template is not None and template not in names["templates"]:
            self.err(fields["template"], f"{where}: unknown template '{template}'"
                     f"{_suggest(template, sorted(names['templates']))}")
        if form is not None and form not in names["forms"]:
            self.err(fields["intake_form"], f"{where}: unknown intake form '{form}'"
                     f"{_suggest(form, sorted(names['forms']))}")

    def policies(self, y: Y | None, templates: set[str]) -> dict[str, EscalationPolicy]:
        out: dict[str, EscalationPolicy] = {}
        for pid, py in self.entries(y, "escalation_policies").items():
            where = f"escalation policy '{pid}'"
            fields = self.mapping(py, where, ("steps", "repeat", "period"))
            repeat = self.integer(fields.get("repeat"), f"{where}: repeat", 0, MAX_REPEAT) or 0
            period = self.duration(fields.get("period"), f"{where}: period")
            if repeat > 0 and period is None and "period" not in fields:
                self.err(fields["repeat"], f"{where}: repeat needs a period")
            if period is not None and not period:
                self.err(fields["period"], f"{where}: period must be longer than zero")
            steps = []
            step_items = self.items(fields.get("steps"), f"{where}: steps")
            if not step_items and py.is_map:
                self.key_err(fields.get("steps") or py, f"{where}: at least one step is required")
            for n, sy in enumerate(step_items, 1):
                step = self.step(sy, f"{where}: step {n}", templates, period)
                if step is not None:
                    steps.append(step)
            out[pid] = EscalationPolicy(id=pid, steps=tuple(steps), repeat=repeat, period=period)
        return out

    def step(self, y: Y, where: str, templates: set[str],
             period: Duration | None) -> Step | None:
        fields = self.mapping(y, where, ("after", "notify", "template"))
        if not y.is_map:
            return None
        after = self.duration(fields.get("after"), f"{where}: after", parent=y, required=True)
        if after is not None and period and after.nominal >= period.nominal:
            self.err(fields["after"], f"{where}: after must be shorter than the period")
        notify = self.string(fields.get("notify"), f"{where}: notify", required=True, parent=y)
        if notify is not None and notify not in NOTIFY_TARGETS:
            self.err(fields["notify"], f"{where}: unknown notify target '{notify}' "
                     f"(use {', '.join(NOTIFY_TARGETS)}){_suggest(notify, NOTIFY_TARGETS)}")
        template = self.string(fields.get("template"), f"{where}: template", required=True,
                               parent=y)
        if template is not None and template not in templates:
            self.err(fields["template"], f"{where}: unknown template '{template}'"
                     f"{_suggest(template, sorted(templates))}")
        if after is None or notify is None or template is None:
            return None
        return Step(after=after, notify=notify, template=template)

    def intake_forms(self, y: Y | None, names: dict[str, set[str]]) -> dict[str, IntakeForm]:
        out: dict[str, IntakeForm] = {}
        for fid, fy in self.entries(y, "intake_forms").items():
            where = f"intake form '{fid}'"
            fields = self.mapping(fy, where, ("title", "questions"))
            title = self.labels(fields.get("title"), f"{where}: title", fallback=fid)
            questions = []
            seen: set[str] = set()
            for n, qy in enumerate(self.items(fields.get("questions"), f"{where}: questions"), 1):
                question = self.question(qy, f"{where}: question {n}", names)
                if question is None:
                    continue
                if question.id in seen:
                    self.err(qy, f"{where}: question id '{question.id}' repeats")
                seen.add(question.id)
                questions.append(question)
            if not questions and fy.is_map:
                self.key_err(fields.get("questions") or fy, f"{where}: at least one question")
            out[fid] = IntakeForm(id=fid, title=title, questions=tuple(questions))
        return out

    def question(self, y: Y, where: str, names: dict[str, set[str]]) -> IntakeQuestion | None:
        fields = self.mapping(y, where, ("id", "type", "label", "options", "required"))
        if not y.is_map:
            return None
        qid = self.string(fields.get("id"), f"{where}: id", required=True, parent=y)
        qtype = self.string(fields.get("type"), f"{where}: type", required=True, parent=y)
        if qtype is not None and qtype not in QUESTION_TYPES:
            self.err(fields["type"], f"{where}: unknown question type '{qtype}' "
                     f"(use {', '.join(QUESTION_TYPES)})")
            qtype = None
        label = self.labels(fields.get("label"), f"{where}: label", fallback=qid or "")
        options = []
        ids: set[str] = set()
        digits: set[str] = set()
        for n, oy in enumerate(self.items(fields.get("options"), f"{where}: options"), 1):
            ofields = self.mapping(oy, f"{where}: option {n}",
                                   ("id", "label", "sms", "task", "alert"))
            oid = self.string(ofields.get("id"), f"{where}: option {n}: id", True, oy)
            sms = self.string(ofields.get("sms"), f"{where}: option {n}: sms")
            if sms is not None and not sms.isdigit():
                self.err(ofields["sms"], f"{where}: option {n}: sms must be digits")
            if sms is not None and sms in digits:
                self.err(ofields["sms"], f"{where}: option {n}: sms '{sms}' repeats")
            if oid is not None and oid in ids:
                self.err(oy, f"{where}: option id '{oid}' repeats")
            olabel = self.labels(ofields.get("label"), f"{where}: option {n}: label",
                                 fallback=oid or "")
            if oid is not None:
                ids.add(oid)
                digits.add(sms or "")
                task, alert = self.option_effects(ofields, f"{where}: option {n}", names)
                options.append(IntakeOption(id=oid, label=olabel, sms=sms, task=task,
                                            alert=alert))
        if qtype in ("choice", "multi") and not options:
            self.err(fields.get("type") or y, f"{where}: a {qtype} question needs options")
        required = self.boolean(fields.get("required"), f"{where}: required")
        if qid is None or qtype is None:
            return None
        return IntakeQuestion(id=qid, type=qtype, label=label, options=tuple(options),
                              required=required)

    def option_effects(self, fields: dict[str, Y], where: str, names: dict[str, set[str]]
                       ) -> tuple[str | None, IntakeAlert | None]:
        """What choosing an option sets in motion: a task (of kind action) and a staff alert."""
        task = self.string(fields.get("task"), f"{where}: task")
        if task is not None and task not in names["tasks"]:
            self.err(fields["task"], f"{where}: unknown task '{task}'"
                     f"{_suggest(task, sorted(names['tasks']))}")
            task = None
        elif task is not None and self.task_kinds.get(task, "action") != "action":
            self.err(fields["task"], f"{where}: task '{task}' must be of kind action "
                     f"(it is {self.task_kinds[task]})")
            task = None
        ay = fields.get("alert")
        if ay is None:
            return task, None
        afields = self.mapping(ay, f"{where}: alert", ("notify", "template"))
        notify = self.string(afields.get("notify"), f"{where}: alert: notify", True, ay)
        if notify is not None and notify not in STAFF_TARGETS:
            self.err(afields["notify"], f"{where}: alert: unknown audience '{notify}' "
                     f"(use {', '.join(STAFF_TARGETS)}){_suggest(notify, STAFF_TARGETS)}")
            notify = None
        template = self.string(afields.get("template"), f"{where}: alert: template", True, ay)
        if template is not None and template not in names["templates"]:
            self.err(afields["template"], f"{where}: alert: unknown template '{template}'"
                     f"{_suggest(template, sorted(names['templates']))}")
            template = None
        if notify is None or template is None:
            return task, None
        return task, IntakeAlert(notify=notify, template=template)

    def templates(self, y: Y | None) -> dict[str, MessageTemplate]:
        out: dict[str, MessageTemplate] = {}
        for tid, ty in self.entries(y, "templates").items():
            where = f"template '{tid}'"
            fields = self.mapping(ty, where, ("sms", "email"))
            if ty.is_map and not fields:
                self.key_err(ty, f"{where}: needs an sms or an email text")
            sms = self.texts(fields.get("sms"), f"{where}: sms", TEXT_ENV)
            email = self.mapping(fields.get("email"), f"{where}: email",
                                 ("subject", "body", "html"))
            if "email" in fields and "body" not in email and "html" not in email:
                self.key_err(fields["email"], f"{where}: email needs a body")
            out[tid] = MessageTemplate(
                id=tid, sms=sms,
                subject=self.texts(email.get("subject"), f"{where}: email subject", TEXT_ENV),
                body=self.texts(email.get("body"), f"{where}: email body", TEXT_ENV),
                html=self.texts(email.get("html"), f"{where}: email html", HTML_ENV),
            )
        return out

    def texts(self, y: Y | None, where: str, env: Any) -> dict[str, TemplateText]:
        if y is None:
            return {}
        if y.is_scalar and y.value is not None:
            y = Y({self.default_locale: y}, y.file, y.line, y.column, key_line=y.key_line,
                  key_column=y.key_column)
        if not y.is_map:
            self.err(y, f"{where}: must map language codes to texts or file paths")
            return {}
        out: dict[str, TemplateText] = {}
        for locale, ly in y.value.items():
            if locale.startswith("x-"):
                continue
            if not is_language_code(locale):
                self.key_err(ly, f"{where}: '{locale}' is not a language code")
                continue
            text = self.template_text(ly, f"{where} ({locale})", env)
            if text is not None:
                out[locale] = text
        if self.default_locale not in y.value:
            self.key_err(y, f"{where}: missing the default locale '{self.default_locale}'")
        return out

    def template_text(self, y: Y, where: str, env: Any) -> TemplateText | None:
        value = self.string(y, where, required=True, parent=y)
        if value is None:
            return None
        file, line, path = y.file, y.line, None
        if is_template_path(value):
            path = posixpath.normpath(value)
            if value.startswith(("/", "\\")) or path.startswith("..") or ":" in value:
                self.err(y, f"{where}: template file '{value}' must lie in the playbook's folder")
                return None
            source = self.read(path)
            if source is None:
                self.err(y, f"{where}: template file '{value}' not found")
                return None
            self.template_files[path] = source
            file, line = self.shown(path), 1
        else:
            source = value
        html = env is HTML_ENV
        kept = codecache.current().get("html" if html else "text", source)
        if kept is not None:  # compiled before, without a problem, by this very code
            uses = frozenset(kept[1])
        else:
            try:
                uses = _checked_text(env, source, html)
            except TemplateSyntaxError as exc:
                at = line + (exc.lineno or 1) - 1 if path else y.line
                self.problems.append(Problem(file, at, 1 if path else y.column,
                                             f"{where}: template syntax error: {exc.message}"))
                return None
        return TemplateText(source=source, file=file, line=line, path=path, uses=uses, html=html)

    def rules(self, y: Y | None, names: dict[str, set[str]]) -> list[Rule]:
        out: list[Rule] = []
        seen: dict[str, int] = {}
        items = self.items(y, "rules")
        if y is not None and not items and (y.is_list or y.value is None):
            self.key_err(y, "rules: at least one rule is required")
        for n, ry in enumerate(items, 1):
            rule = self.rule(ry, n, names)
            if rule is None:
                continue
            if rule.id in seen:
                self.err(ry, f"rule '{rule.id}': duplicate rule id (first at line {seen[rule.id]})")
            seen.setdefault(rule.id, ry.line)
            out.append(rule)
        return out

    def rule(self, y: Y, n: int, names: dict[str, set[str]]) -> Rule | None:
        fields = self.mapping(y, f"rule {n}",
                              ("id", "when", "select", "role", "tasks", "escalation",
                               "description"))
        if not y.is_map:
            return None
        rid = self.string(fields.get("id"), f"rule {n}: id", required=True, parent=y)
        where = f"rule '{rid}'" if rid else f"rule {n}"
        when_src, when_expr = self.expression(fields.get("when"), f"{where}: when")
        select_src, select_expr = self.expression(fields.get("select"), f"{where}: select")
        role = self.string(fields.get("role"), f"{where}: role")
        if role is not None and role not in ROLES:
            self.err(fields["role"], f"{where}: unknown role '{role}' "
                     f"(use {', '.join(ROLES)}){_suggest(role, ROLES)}")
        if "select" in fields and role is None:
            self.err(fields["select"], f"{where}: a rule with select needs a role")
        tasks: list[str] = []
        for ty in self.items(fields.get("tasks"), f"{where}: tasks"):
            task = self.string(ty, f"{where}: tasks")
            if task is None:
                continue
            if task not in names["tasks"]:
                self.err(ty, f"{where}: unknown task '{task}'"
                         f"{_suggest(task, sorted(names['tasks']))}")
            tasks.append(task)
        escalation = self.string(fields.get("escalation"), f"{where}: escalation")
        if escalation is not None and escalation not in names["policies"]:
            self.err(fields["escalation"], f"{where}: unknown escalation policy '{escalation}'"
                     f"{_suggest(escalation, sorted(names['policies']))}")
        if rid is None:
            return None
        return Rule(id=rid, when=when_src, select=select_src, role=role,
                    tasks=tuple(dict.fromkeys(tasks)), escalation=escalation, line=y.line,
                    when_expr=when_expr, select_expr=select_expr)

    def expression(self, y: Y | None, where: str) -> tuple[str | None, Any]:
        source = self.string(y, where)
        if y is None or source is None:
            return None, None
        try:
            return source, compile_expression(source)
        except ExpressionError as exc:
            self.problems.append(Problem(y.file, y.line + exc.line - 1, y.column,
                                         f"{where}: {exc}"))
            return source, None


__all__ = ["PlaybookError", "Problem", "compute_digest", "is_template_path", "load_playbook",
           "load_playbook_files", "parse_duration"]
