"""The harness itself: only the pinned description is read, and the checks bite."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from . import twilio_spec as spec_module
from .twilio_spec import SpecUnavailable, SpecValidator

MESSAGES = "/2010-04-01/Accounts/AC" + "f00d" * 8 + "/Messages.json"
FORM = "application/x-www-form-urlencoded"


def test_the_vendored_description_is_the_pinned_one() -> None:
    content = spec_module.SPEC_FILE.read_bytes()
    assert hashlib.sha256(content).hexdigest() == spec_module.SHA256
    spec = spec_module.load_twilio_spec()
    assert "/2010-04-01/Accounts/{AccountSid}/Messages.json" in spec["paths"]


def test_a_copy_with_one_byte_changed_is_refused(tmp_path: Path) -> None:
    content = bytearray(spec_module.SPEC_FILE.read_bytes())
    where = content.index(b"This is the public Twilio REST API.")
    content[where] = ord("t")  # still JSON, still a description: only the hash tells
    changed = tmp_path / "twilio_api_v2010.json"
    changed.write_bytes(bytes(content))
    with pytest.raises(SpecUnavailable, match=r"SHA-256 is [0-9a-f]{64}, not the pinned"):
        spec_module.load_twilio_spec(changed)


def test_a_missing_description_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(SpecUnavailable, match="cannot read Twilio's description"):
        spec_module.load_twilio_spec(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"{not json", "not JSON"), (b'{"paths": {}}', "lacks the Messages resource")],
)
def test_a_pinned_file_that_is_no_description_is_refused(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "spec.json"
    path.write_bytes(content)
    with pytest.raises(SpecUnavailable, match=expected):
        spec_module.load_twilio_spec(path, sha256=hashlib.sha256(content).hexdigest())


def _problems(
    spec: dict[str, Any], form: dict[str, list[str]], content_type: str = FORM
) -> list[str]:
    validator = SpecValidator(spec)
    route = validator.route("POST", MESSAGES)
    assert route is not None
    return validator.check_request(route, content_type, {}, form)


def test_a_good_request_passes(twilio_spec: dict[str, Any]) -> None:
    form = {
        "To": ["+31612345279"],
        "Body": ["x"],
        "ValidityPeriod": ["60"],
        "ContentRetention": ["retain"],
    }
    assert _problems(twilio_spec, form) == []


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"Body": ["x"]}, "missing required To"),
        ({"To": ["+31612345279"], "Colour": ["red"]}, "unknown parameter Colour"),
        ({"To": ["+31612345279"], "ValidityPeriod": ["soon"]}, "not an integer"),
        ({"To": ["+31612345279"], "ContentRetention": ["forever"]}, "not one of"),
        ({"To": ["+31612345279"], "MessagingServiceSid": ["MG123"]}, "does not match"),
        ({"To": ["+31612345279"], "SmartEncoded": ["yes"]}, "not true/false"),
        ({"To": ["+31612345279", "+31687654321"]}, "given 2 times"),
        ({"To": ["+31612345279"], "StatusCallback": ["/relative"]}, "absolute"),
    ],
)
def test_bad_requests_are_named(
    twilio_spec: dict[str, Any], form: dict[str, list[str]], expected: str
) -> None:
    assert any(expected in problem for problem in _problems(twilio_spec, form))


def test_json_body_is_refused(twilio_spec: dict[str, Any]) -> None:
    problems = _problems(twilio_spec, {"To": ["+31612345279"]}, "application/json")
    assert any("content type application/json" in p for p in problems)


def test_unknown_paths_and_methods(twilio_spec: dict[str, Any]) -> None:
    validator = SpecValidator(twilio_spec)
    assert validator.route("POST", "/2010-04-01/Accounts/AC1/Telegrams.json") is None
    route = validator.route("PUT", MESSAGES)
    assert route is not None and validator.check_request(route, None, {}, {}) == [
        "method not allowed on /2010-04-01/Accounts/{AccountSid}/Messages.json"
    ]
