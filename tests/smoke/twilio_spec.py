"""Twilio's published OpenAPI description (API 2010), vendored in tests/smoke/vendor/twilio/.

The fake Twilio server answers and validates by this description, so the tests check our use of
the real `twilio` library against what Twilio publishes, not against what we believe. The file
is the one of the npm package `@twilio-alpha/mcp` 0.7.0 (see vendor/twilio/README.md); it is
read only when its SHA-256 is the pinned one, so the suite needs no network and no npm.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SPEC_FILE = Path(__file__).resolve().parent / "vendor" / "twilio" / "twilio_api_v2010.json"
# sha256sum of package/twilio-oai/spec/json/twilio_api_v2010.json in @twilio-alpha/mcp@0.7.0
SHA256 = "475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052"


class SpecUnavailable(RuntimeError):
    """The OpenAPI description could not be read, or is not the pinned one."""


def load_twilio_spec(path: Path = SPEC_FILE, sha256: str = SHA256) -> dict[str, Any]:
    """The vendored OpenAPI description, refused unless its SHA-256 is the pinned one."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise SpecUnavailable(f"{path}: cannot read Twilio's description: {exc}") from exc
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise SpecUnavailable(
            f"{path}: SHA-256 is {digest}, not the pinned {sha256} (a changed or damaged copy; "
            "see vendor/twilio/README.md)"
        )
    try:
        spec = json.loads(content)
    except ValueError as exc:
        raise SpecUnavailable(f"{path}: not JSON: {exc}") from exc
    return _check(spec)


def _check(spec: object) -> dict[str, Any]:
    if not isinstance(spec, dict) or "/2010-04-01/Accounts/{AccountSid}/Messages.json" not in (
        spec.get("paths") or {}
    ):
        raise SpecUnavailable("the description lacks the Messages resource")
    return spec


# --- checking requests and answers against the description -------------------------------------

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Route:
    """One path template of the description, matched."""

    template: str
    operation: dict[str, Any]
    path_params: dict[str, str]


class SpecValidator:
    """Checks HTTP requests (and the fake's own answers) against an OpenAPI 3 description."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._templates = [
            (re.compile("^" + _template_regex(template) + "$"), template)
            for template in spec["paths"]
        ]

    def route(self, method: str, path: str) -> Route | None:
        """The operation for this method and path; None when the path is not described."""
        for regex, template in self._templates:
            found = regex.match(path)
            if found:
                operation = self.spec["paths"][template].get(method.lower())
                if operation is None:
                    return Route(template, {}, found.groupdict())
                return Route(template, operation, found.groupdict())
        return None

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema with its `$ref` followed."""
        while "$ref" in schema:
            node: Any = self.spec
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def check_request(
        self,
        route: Route,
        content_type: str | None,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
    ) -> list[str]:
        """Everything wrong with one request to a matched route."""
        if not route.operation:
            return [f"method not allowed on {route.template}"]
        problems: list[str] = []
        parameters = route.operation.get("parameters", [])
        for param in parameters:
            if param["in"] == "path":
                value = route.path_params.get(param["name"], "")
                problems += self.check_values(f"path {param['name']}", param["schema"], [value])
        known_query = {p["name"]: p for p in parameters if p["in"] == "query"}
        for name, values in query.items():
            if name not in known_query:
                problems.append(f"unknown query parameter {name}")
            else:
                problems += self.check_values(f"query {name}", known_query[name]["schema"], values)
        body = route.operation.get("requestBody")
        if body is None:
            if form:
                problems.append("a body was sent to an operation that takes none")
            return problems
        return problems + self._check_form(body, content_type, form)

    def _check_form(
        self, body: dict[str, Any], content_type: str | None, form: dict[str, list[str]]
    ) -> list[str]:
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in body["content"]:
            return [f"content type {media or 'none'} not in {sorted(body['content'])}"]
        schema = self.resolve(body["content"][media]["schema"])
        properties = schema.get("properties", {})
        problems = [
            f"missing required {name}" for name in schema.get("required", []) if name not in form
        ]
        for name, values in form.items():
            if name not in properties:
                problems.append(f"unknown parameter {name}")
            else:
                problems += self.check_values(name, properties[name], values)
        return problems

    def check_values(self, name: str, schema: dict[str, Any], values: list[str]) -> list[str]:
        """Form or query values (strings) against a parameter schema."""
        schema = self.resolve(schema)
        if schema.get("type") == "array":
            problems: list[str] = []
            for value in values:
                problems += self.check_values(name, schema.get("items", {}), [value])
            return problems
        if len(values) != 1:
            return [f"{name} given {len(values)} times"]
        return _check_scalar(name, schema, values[0])

    def check_json(self, value: Any, schema: dict[str, Any], where: str) -> list[str]:
        """A JSON value against a schema (the fake checks its own answers with this)."""
        schema = self.resolve(schema)
        if value is None:
            return [] if schema.get("nullable") or not schema else [f"{where} is null"]
        kind = schema.get("type")
        expected = {
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "object": dict,
            "array": list,
        }.get(kind or "")
        if expected is not None and (
            not isinstance(value, expected)
            or (kind in ("integer", "number") and isinstance(value, bool))
        ):
            return [f"{where} is not {kind}"]
        if kind == "object" and "properties" in schema:
            problems = [
                f"{where}.{key} is not described"
                for key in value
                if key not in schema["properties"]
            ]
            for key, sub in schema["properties"].items():
                if key in value:
                    problems += self.check_json(value[key], sub, f"{where}.{key}")
            return problems
        if kind == "array":
            problems = []
            for index, item in enumerate(value):
                problems += self.check_json(item, schema.get("items", {}), f"{where}[{index}]")
            return problems
        if kind == "string":
            return _check_string(where, schema, value, relative_ok=True)
        return []


def _template_regex(template: str) -> str:
    pieces = re.split(r"(\{[^}]+\})", template)
    return "".join(
        f"(?P<{piece[1:-1]}>[^/]+?)" if piece.startswith("{") else re.escape(piece)
        for piece in pieces
    )


def _check_scalar(name: str, schema: dict[str, Any], value: str) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return [f"{name} is not an integer"]
        number = int(value)
        if "minimum" in schema and number < schema["minimum"]:
            return [f"{name} below minimum"]
        if "maximum" in schema and number > schema["maximum"]:
            return [f"{name} above maximum"]
        return []
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return [f"{name} is not a number"]
        return []
    if kind == "boolean":
        return [] if value in ("true", "false") else [f"{name} is not true/false"]
    return _check_string(name, schema, value)


def _check_string(
    name: str, schema: dict[str, Any], value: str, relative_ok: bool = False
) -> list[str]:
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{name} not one of {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{name} does not match {schema['pattern']}")
    if len(value) < schema.get("minLength", 0):
        problems.append(f"{name} shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{name} longer than {schema['maxLength']}")
    ignore_format = (schema.get("x-twilio") or {}).get("ignoreFormat")
    fmt = schema.get("format")
    if fmt == "uri" and not ignore_format:
        parts = urlsplit(value)
        relative = relative_ok and value.startswith("/")  # Twilio answers with paths
        if not relative and (parts.scheme not in ("http", "https") or not parts.netloc):
            problems.append(f"{name} is not an absolute http(s) URI")
    if fmt == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            problems.append(f"{name} is not an ISO 8601 date-time")
    if fmt == "date-time-rfc-2822":
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            problems.append(f"{name} is not an RFC 2822 date")
    return problems


def is_e164(number: str) -> bool:
    """True for a plausible E.164 number (what Twilio accepts as an SMS To)."""
    return bool(_E164.match(number))
