"""Sandboxed expressions: the names, undefined values, area helpers, and the guards."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from playbook.expressions import (
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    Record,
    compile_expression,
    distance_km,
    within,
)

COMMUNITY = Record({"id": "c1", "name": "Moskee", "kind": "faith", "tags": ("islam", "turkish"),
                    "languages": ("tr", "nl"), "area": "BU03630101", "lat": 52.37, "lon": 4.9,
                    "attributes": Record({"organisation_type": "mosque"})})
INCIDENT = Record({"type": "attack", "severity": 4, "area": "WK036301", "lat": None,
                   "lon": None, "fields": Record({"target_faith": "islam"}),
                   "exercise": False})


def ev(source: str) -> object:
    return compile_expression(source).evaluate(community=COMMUNITY, incident=INCIDENT)


@pytest.mark.parametrize(("source", "expected"), [
    ('incident.type == "attack"', True),
    ("incident.severity >= 4", True),
    ("incident.fields.target_faith in community.tags", True),
    ('community.attributes.organisation_type == "mosque"', True),
    ('community.languages[0] == "tr"', True),
    ("within(community.area, incident.area)", True),
    ("incident.exercise", False),
    ('community.name.lower().startswith("mos")', True),
    ('"islam" in community.tags and community.kind == "faith"', True),
    ('community.attributes.get("organisation_type") == "mosque"', True),
    ('community.attributes.get("faith", "none") == "none"', True),
    ('"organisation_type" in community.attributes', True),
    ("incident.fields | length == 1", True),
])
def test_names_and_plain_operations(source: str, expected: object) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize("source", [
    'community.attributes.faith == "x"',
    'community.attributes.faith != "x" and false',
    '"x" in community.attributes.faith',
    "community.attributes.faith < 3",
    "community.attributes.faith > 3",
    "community.attributes.faith >= 3",
    "community.attributes.faith <= 3",
    "community.attributes.faith.deeper == 1",
    "incident.fields.missing in community.tags",
])
def test_missing_values_compare_false(source: str) -> None:
    assert not ev(source)


def test_missing_value_is_falsy_and_defaults_work() -> None:
    assert ev("not community.attributes.faith") is True
    assert ev('community.attributes.faith | default("none") == "none"') is True


@pytest.mark.parametrize("source", [
    "community.__class__", "community._data", "community.attributes.__class__.__mro__",
    "community.tags.__class__", "within.__globals__", "community.attributes.faith.__class__",
])
def test_private_attributes_are_unreachable(source: str) -> None:
    value = ev(source)
    assert not value and str(value) == ""


def test_comparisons_that_raise_do_raise_for_the_builder_to_catch() -> None:
    with pytest.raises(TypeError):
        ev("incident.lat < 3")
    with pytest.raises(TypeError):
        ev("none < 3")


@pytest.mark.parametrize(("source", "message"), [
    ("2 ** 8", "power"),
    ("community.severity ** 2", "power"),
    ('"a" * 100000', "too long"),
    ("[1, 2] * 6000", "too long"),
    ('("x" * 9000) + ("y" * 9000)', "too long"),
    ('"%99999999s" % 1', "formatting"),
    ('(("9" * 500) | int) * (("9" * 500) | int)', "too large"),
])
def test_guards_refuse_blowups(source: str, message: str) -> None:
    with pytest.raises(SecurityError, match=message):
        ev(source)


@pytest.mark.parametrize("source", [
    '"x".center(999999999)', '"x".ljust(999999999)', '"{:999999999}".format(1)',
    "[1].append(1)", '"{x:999999999}".format_map({"x": 1})', '"a".replace("a", "bb")',
])
def test_unsafe_methods_are_refused(source: str) -> None:
    with pytest.raises(SecurityError):
        ev(source)


@pytest.mark.parametrize("source", [
    "range(10 * 1000000) | list", "lipsum(1000)", '"x" | center(999999999)',
    '"x" | indent(99999999)', 'cycler(1)', '"x" | wordwrap(5)',
])
def test_dangerous_globals_and_filters_are_absent(source: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - undefined global or unknown filter
        compile_expression(source).evaluate(community=COMMUNITY, incident=INCIDENT)


def test_small_multiplications_still_work() -> None:
    assert ev('"ab" * 3') == "ababab"
    assert ev("incident.severity * 2") == 8


def test_expression_length_is_capped() -> None:
    compile_expression('"' + "a" * (MAX_EXPRESSION_LENGTH - 2) + '"')
    with pytest.raises(ExpressionError, match="at most"):
        compile_expression("1" + " " * MAX_EXPRESSION_LENGTH)


@pytest.mark.parametrize("source", ["incident.type ==", "(1", "a b", "{% if %}", ""])
def test_syntax_errors(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_deep_nesting_is_a_compile_error_not_a_crash() -> None:
    with pytest.raises(ExpressionError):
        compile_expression("(" * 490 + "1" + ")" * 490)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("BU03630101", "BU03630101", True),
    ("BU03630101", "WK036301", True),
    ("BU03630101", "GM0363", True),
    ("WK036301", "GM0363", True),
    ("GM0363", "WK036301", False),
    ("BU03640101", "GM0363", False),
    ("noord/oud-noord", "noord", True),
    ("noord", "noord/oud-noord", False),
    ("noordwest", "noord", False),
    ("noord/oud-noord/x", "noord/oud-noord", True),
    (None, "noord", False),
    ("noord", None, False),
    (None, None, False),
    ("GM0363", "noord", False),
])
def test_within(a: str | None, b: str | None, expected: bool) -> None:
    assert within(a, b) is expected


def test_within_undefined_is_false() -> None:
    assert ev("within(community.attributes.area, incident.area)") is False
    assert ev("within(incident.area, community.attributes.nothing)") is False


def test_distance_km() -> None:
    amsterdam = Record({"lat": 52.3676, "lon": 4.9041})
    utrecht = Record({"lat": 52.0907, "lon": 5.1214})
    assert distance_km(amsterdam, utrecht) == pytest.approx(34.5, abs=1.0)
    assert distance_km(amsterdam, amsterdam) == 0
    assert distance_km(amsterdam, Record({"lat": None, "lon": None})) is None
    assert distance_km(amsterdam, None) is None
    assert ev("distance_km(community, incident)") is None
    assert ev("distance_km(community, community) == 0") is True
