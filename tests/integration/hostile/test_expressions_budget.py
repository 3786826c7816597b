"""Expressions, templates and YAML have a budget.

`([('a'*10000)]*10000)|join|length` built a 100-million-character string (only `*` and `+`
were guarded); loops in templates ran unbounded; ten levels of nine YAML aliases ran
`playbook check` past 60 s and 2 GB. Now every evaluation is bounded in what it builds, in
steps and in time; a rule that blows its budget for a community is a warning naming the rule,
`playbook check` refuses what blows it on made-up data (naming the rule or template and its
position), and aliases may expand a file to at most 100,000 values.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from playbook.expressions import (
    EXPRESSION_LIMITS,
    TEXT_ENV,
    BudgetExceeded,
    Record,
    compile_expression,
)
from playbook.yamlpos import MAX_VALUES, parse_yaml
from tests.cli_support import run_cli

COMMUNITY = Record({"id": "c1", "name": "Moskee", "kind": "faith", "tags": ("islam",),
                    "languages": ("nl",), "area": "BU00010101", "lat": 52.0, "lon": 5.0,
                    "attributes": Record({"blob": "b" * 100})})
INCIDENT = Record({"type": "t", "severity": 3, "fields": Record({}), "area": None,
                   "lat": None, "lon": None, "exercise": False})

# Each builds (or would build) far more than an evaluation may; none may run long.
EXPRESSION_ATTACKS = [
    "([('a'*10000)]*10000)|join|length",
    "([('a'*10000)]*10)|join|length",
    "[[('a'*10000)]*10]*10",
    "([[('a'*10000)]*10000]*10000)|map('join')|join|length",
    "([1]*10000)|join('a'*10000)|length",
    "([[1]]*10000)|sum(start=[])|length",
    "(('a'*10000)|list|string|list|string|list|string)|length",
    "((('a'*10000)|list)|map('list')|map('string')|join)|length",
    "[('a'*9999),('a'*9999),('a'*9999),('a'*9999),('a'*9999),('a'*9999),('a'*9999),"
    "('a'*9999),('a'*9999),('a'*9999),('a'*9999)]|join|length",
    "([('a'*9999)]*10 ~ 'x')|length",
    "(([('a'*9999)]*10)|string)|length",
    "([community.attributes.blob]*10000)|join|length",
    "(community.name ~ ('x'*9990))|list|map('string')|list|string|length",
]


@pytest.mark.parametrize("source", EXPRESSION_ATTACKS)
def test_expressions_that_build_too_much_are_refused(source: str) -> None:
    with pytest.raises(SecurityError):
        compile_expression(source).evaluate(community=COMMUNITY, incident=INCIDENT)


def test_the_budget_over_all_communities_is_bounded_too() -> None:
    """A rule just inside the per-community budget cannot spend it on every community."""
    run = compile_expression("(('a'*4000)|list|map('upper')|list)|length").binder(
        {"incident": INCIDENT})
    results: list[object] = []
    for _ in range(1 + EXPRESSION_LIMITS.max_total_steps // 4000):
        try:
            results.append(run("community", COMMUNITY))
        except BudgetExceeded as exc:
            results.append(str(exc))
            break
    assert results[0] == 4000
    assert "over all communities" in str(results[-1])


def test_ordinary_expressions_are_untouched() -> None:
    def ev(source: str) -> object:
        return compile_expression(source).evaluate(community=COMMUNITY, incident=INCIDENT)

    assert ev("community.tags|join(',') == 'islam'") is True
    assert ev("(community.tags|list + ['x'])|length") == 2
    assert ev("('ab' * 3)|upper") == "ABABAB"
    assert ev("community.tags|map('upper')|list") == ["ISLAM"]
    assert ev("[[1], [2]]|sum(start=[])") == [1, 2]
    assert ev("[1, 2, 3]|sum") == 6


TEMPLATE_ATTACKS = [
    "{% for a in ('x'*10000)|list %}{% for b in ('x'*10000)|list %}{% endfor %}{% endfor %}",
    "{% for a in ('x'*10000)|list %}{{ 'y'*10000 }}{% endfor %}",
    "{{ ([('a'*10000)]*10000)|join }}",
    "{% set s = 'a'*10000 %}{% for i in s|list %}{% for j in s|list %}{{ i ~ j }}"
    "{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("source", TEMPLATE_ATTACKS)
def test_templates_render_in_the_same_budget(source: str) -> None:
    with pytest.raises(BudgetExceeded):
        TEXT_ENV.from_string(source).render(community=COMMUNITY)


def test_a_long_legitimate_staff_message_still_renders() -> None:
    not_reached = tuple(Record({"name": f"Gemeenschap {n}", "contacts": (
        Record({"name": "Iemand", "channel": "sms", "address": "+31600000000"}),) * 3})
        for n in range(2000))
    text = TEXT_ENV.from_string(
        "{% for c in not_reached %}{{ c.name }}: {% for p in c.contacts %}{{ p.name }} "
        "({{ p.channel }} {{ p.address }}){% endfor %}\n{% endfor %}"
    ).render(not_reached=not_reached)
    assert text.count("Gemeenschap ") == 2000 and text.count("Iemand") == 6000


# --- YAML ----------------------------------------------------------------------------------


def _laughs(levels: int = 10, width: int = 9) -> str:
    lines = ["playbook: {id: laughs, version: '1', default_locale: nl, "
             "timezone: Europe/Amsterdam}",
             "x-a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"x-a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_aliases_that_expand_past_the_limit_are_refused_at_their_position() -> None:
    root, problems = parse_yaml(_laughs(), "laughs.yaml")
    assert root is None
    assert [(p.line, p.column) for p in problems] == [(7, 12)]
    assert f"more than {MAX_VALUES} values" in problems[0].message


def test_an_alias_inside_its_own_value_is_refused() -> None:
    root, problems = parse_yaml("a: &a [1, *a]\n", "loop.yaml")
    assert root is None and "contains it" in problems[0].message


def test_ordinary_aliases_still_work() -> None:
    root, problems = parse_yaml("a: &a [1, 2]\nb: [*a, *a]\n", "ok.yaml")
    assert problems == [] and root is not None
    assert [y.value for y in root.value["b"].value[1].value] == [1, 2]


def _limit_memory() -> None:  # in the child: 1.5 GB is far more than a check needs
    limit = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_playbook_check_of_a_billion_laughs_exits_2_quickly(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VERBINDER_") or k == "VERBINDER_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "playbook", "check", str(path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_memory)
    assert done.returncode == 2, done.stderr
    assert f"{path}:7:12: aliases expand the file to more than {MAX_VALUES} values" in done.stderr


# --- through the commands ------------------------------------------------------------------

PLAYBOOK = """\
playbook: {{id: hostile, version: "1", default_locale: nl, timezone: Europe/Amsterdam}}
incident_types:
  t: {{label: {{nl: T}}}}
rules:
  - id: gewoon
    select: community.kind == "faith"
    role: affected
    tasks: [t1]
  - id: {rule}
    select: {select}
    role: informed
    tasks: [t1]
tasks:
  t1: {{title: {{nl: Een}}, due: 1h}}
templates:
  groet:
    sms:
      nl: {template}
"""


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """`verbinder --db DB ARGS` through main(): (exit status, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("VERBINDER_", "TWILIO_", "SMTP_")):
            monkeypatch.delenv(name)
    db = f"sqlite:///{tmp_path / 'v.db'}"

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, *args])

    return _run


def _playbook(tmp_path: Path, select: str = 'community.kind == "neighbourhood"',
              template: str = '"Hallo {{ community.name }}"') -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK.format(rule="opblazen", select=json.dumps(select),
                                    template=template), encoding="utf-8")
    return path


def test_the_fixture_playbook_is_fine(run, tmp_path: Path) -> None:
    code, _, err = run("playbook", "check", str(_playbook(tmp_path)))
    assert code == 0, err


def test_playbook_check_refuses_a_rule_that_blows_its_budget(run, tmp_path: Path) -> None:
    path = _playbook(tmp_path, select="([('a'*10000)]*10000)|join|length > 0")
    code, _, err = run("playbook", "check", str(path))
    assert code == 2, err
    assert f"{path}:10:13: rule 'opblazen': its 'select' exceeds the expression budget" in err


def test_playbook_check_refuses_a_template_that_blows_its_budget(run, tmp_path: Path) -> None:
    path = _playbook(tmp_path, template=json.dumps(TEMPLATE_ATTACKS[0]))
    code, _, err = run("playbook", "check", str(path))
    assert code == 2, err
    assert f"{path}:18:" in err and "template 'groet': sms (nl) exceeds the template budget" in err


def test_preview_and_declare_refuse_such_a_playbook_before_storing(run, tmp_path: Path) -> None:
    path = _playbook(tmp_path, select="([('a'*10000)]*10000)|join|length > 0")
    for command in ("preview", "declare"):
        code, _, err = run("--playbook", str(path), "incident", command, "--type", "t")
        assert code == 2, err
        assert "rule 'opblazen'" in err
    code, out, _ = run("incident", "list", "--json")
    assert json.loads(out)["incidents"] == []


def test_a_rule_that_blows_its_budget_on_real_data_is_a_warning(run, tmp_path: Path) -> None:
    """Not caught on made-up data (no `blob` there): handled like any rule that raises."""
    folder = tmp_path / "kaart"
    folder.mkdir()
    (folder / "communities.csv").write_text(
        "id,name,kind,blob\nc1,Moskee,faith," + "b" * 100 + "\nc2,Buurthuis,neighbourhood,\n",
        encoding="utf-8")
    assert run("registry", "import", str(folder))[0] == 0
    path = _playbook(tmp_path, select="([community.attributes.blob]*1000)|join|length > 0")
    assert run("playbook", "check", str(path))[0] == 0
    code, out, err = run("--playbook", str(path), "incident", "preview", "--type", "t", "--json")
    assert code == 0, err
    doc = json.loads(out)
    failed = [w for w in doc["warning_details"] if w.get("rule") == "opblazen"]
    assert failed and failed[0]["communities"] == ["c1"]
    assert any("rule 'opblazen'" in w and "too long" in w for w in doc["warnings"])
    assert [c["id"] for c in doc["communities"]] == ["c1"]  # matched by the other rule
