"""The harness itself: fetching Twilio's description fails loudly, and the checks bite."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from . import twilio_spec as spec_module
from .twilio_spec import SpecUnavailable, SpecValidator

MESSAGES = "/2010-04-01/Accounts/AC" + "f00d" * 8 + "/Messages.json"
FORM = "application/x-www-form-urlencoded"


def test_without_npm_the_fetch_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERBINDER_TEST_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpecUnavailable, match="npm is not installed"):
        spec_module.load_twilio_spec()


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "mcp.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        data = b'{"paths": {}}'
        info = tarfile.TarInfo(spec_module.MEMBER)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(SpecUnavailable, match="integrity"):
        spec_module._extract(tarball)


def test_a_damaged_cache_is_fetched_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERBINDER_TEST_CACHE", str(tmp_path))
    cached = spec_module.cached_path()
    cached.parent.mkdir(parents=True)
    cached.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(spec_module, "fetch_spec_bytes", lambda: b'{"paths": {}}')
    with pytest.raises(SpecUnavailable, match="lacks the Messages resource"):
        spec_module.load_twilio_spec()
    assert not cached.exists()


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
