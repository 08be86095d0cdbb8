"""A checker of HTTP requests and responses against Pinterest's OpenAPI 3.0 description.

The description is read at run time (never copied into the repository): from the environment
variable ``PINTEREST_OPENAPI`` or ``../shared/pinterest-openapi/openapi.json`` beside the
repository. When it is absent, tests that need it skip, except where ``CI`` is set: there they
fail (:func:`spec_missing`), so a CI run can never pass with the spec checks switched off.
Schemas are converted to JSON Schema once (see ``openapi_schemas``) and validated
with jsonschema.

Every check answers a list of problems (empty when all is well), each a sentence naming the
request or response part and the JSON path.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.pinterest.openapi_schemas import URI, Converter, formats

ENV = "PINTEREST_OPENAPI"
DEFAULT_PATH = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "pinterest-openapi" / "openapi.json"
)
BASE_PATH = "/v5"


def spec_path() -> Path:
    """Where the description is expected (``$PINTEREST_OPENAPI`` wins)."""
    return Path(os.environ[ENV]) if os.environ.get(ENV) else DEFAULT_PATH.resolve()


def spec_required() -> bool:
    """Whether an absent description fails the tests instead of skipping them (``CI`` set)."""
    return bool(os.environ.get("CI"))


def spec_missing(what: str = "") -> NoReturn:
    """Skip the calling test (or fixture) because the description is absent, or fail it on CI."""
    message = f"Pinterest's OpenAPI description is not at {spec_path()}; set {ENV}" + (
        f" ({what})" if what else ""
    )
    if spec_required():
        pytest.fail(f"{message}; CI is set, so the spec checks may not be skipped", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    validator: Draft202012Validator


@dataclass
class Operation:
    """One operation of the description; ``path`` is the template below ``/v5``."""

    method: str
    path: str
    operation_id: str
    security: list[dict[str, list[str]]]
    category: str | None
    parameters: list[Parameter]
    body_required: bool
    bodies: dict[str, Draft202012Validator]
    responses: dict[str, dict[str, Draft202012Validator]]
    pattern: re.Pattern[str] = field(repr=False)

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes of the user-token (``pinterest_oauth2``) requirement, all needed."""
        for requirement in self.security:
            if "pinterest_oauth2" in requirement:
                return frozenset(requirement["pinterest_oauth2"])
        return frozenset()

    @property
    def client_credentials(self) -> bool:
        """Whether an app (client credentials) token is accepted too."""
        return any("client_credentials" in r for r in self.security)

    @property
    def basic(self) -> bool:
        return any("basic" in r for r in self.security)


class Spec:
    """The loaded description: find operations and check exchanges against them."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        raw_schemas = document.get("components", {}).get("schemas", {})
        self._converter = Converter(raw_schemas)
        converted = {name: self._converter.convert(s) for name, s in raw_schemas.items()}
        resource = Resource.from_contents(
            {"components": {"schemas": converted}}, default_specification=DRAFT202012
        )
        self._registry: Registry[Any] = Registry().with_resource(URI, resource)
        self._formats = formats()
        self._parameters = document.get("components", {}).get("parameters", {})
        self.version: str = document.get("info", {}).get("version", "")
        self.security_schemes: dict[str, Any] = document.get("components", {}).get(
            "securitySchemes", {}
        )
        self.operations = [
            self._operation(method.upper(), path, op, item)
            for path, item in document.get("paths", {}).items()
            for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete", "head", "options")
        ]
        # Literal segments win over templates: /pins/analytics before /pins/{pin_id}.
        self.operations.sort(key=lambda o: (o.path.count("{"), -len(o.path)))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Spec:
        return cls(json.loads(Path(path or spec_path()).read_text(encoding="utf-8")))

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        return Draft202012Validator(
            self._converter.convert(dict(schema)),
            registry=self._registry,
            format_checker=self._formats,
        )

    def _operation(
        self, method: str, path: str, op: Mapping[str, Any], item: Mapping[str, Any]
    ) -> Operation:
        params = [
            self._parameter(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]
        ]
        body = op.get("requestBody") or {}
        responses = {
            status: {
                ctype: self.validator(media.get("schema", {}))
                for ctype, media in (answer.get("content") or {}).items()
            }
            for status, answer in op.get("responses", {}).items()
        }
        template = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        return Operation(
            method=method,
            path=path,
            operation_id=op.get("operationId", f"{method} {path}"),
            security=list(op.get("security", [])),
            category=op.get("x-ratelimit-category"),
            parameters=params,
            body_required=bool(body.get("required")),
            bodies={
                ctype: self.validator(media.get("schema", {}))
                for ctype, media in (body.get("content") or {}).items()
            },
            responses=responses,
            pattern=re.compile(f"^{template}$"),
        )

    def _parameter(self, node: Mapping[str, Any]) -> Parameter:
        if "$ref" in node:
            node = self._parameters[node["$ref"].rsplit("/", 1)[1]]
        schema = dict(node.get("schema", {}))
        return Parameter(
            node["name"], node["in"], bool(node.get("required")), schema, self.validator(schema)
        )

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` and a concrete path (with or without ``/v5``)."""
        path = path.removeprefix(BASE_PATH) if path.startswith(BASE_PATH + "/") else path
        for operation in self.operations:
            if operation.method == method.upper() and operation.pattern.match(path):
                return operation
        return None

    def operation_by_id(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def check_request(
        self,
        method: str,
        path: str,
        query: Any,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> list[str]:
        """Problems of one request: operation, parameters, security header and body."""
        where = f"{method} {path}"
        operation = self.find_operation(method, path)
        if operation is None:
            return [f"{where}: no such operation in the description"]
        match = operation.pattern.match(path.removeprefix(BASE_PATH))
        assert match is not None
        problems = _check_security(operation, headers)
        declared = {p.name for p in operation.parameters if p.location == "query"}
        problems += [f"unknown query parameter {n!r}" for n in sorted(set(query) - declared)]
        for param in operation.parameters:
            if param.location == "path":
                problems += _check_values(param, [match.group(param.name)])
            elif param.location == "query":
                values = list(query.getall(param.name, []))
                if not values and param.required:
                    problems.append(f"missing required query parameter {param.name!r}")
                elif values:
                    problems += _check_values(param, values)
        problems += self._check_body(operation, headers, body)
        return [f"{where}: {p}" for p in problems]

    def _check_body(
        self, operation: Operation, headers: Mapping[str, str], body: bytes | None
    ) -> list[str]:
        if not body:
            return ["the request body is required but missing"] if operation.body_required else []
        if not operation.bodies:
            return ["the operation takes no request body, but one was sent"]
        ctype = _media_type(headers)
        validator = operation.bodies.get(ctype)
        if validator is None:
            return [f"request Content-Type {ctype!r} is not one of {sorted(operation.bodies)}"]
        try:
            if ctype == "application/x-www-form-urlencoded":
                data: Any = dict(parse_qsl(body.decode(), keep_blank_values=True))
            else:
                data = json.loads(body)
        except ValueError as exc:
            return [f"the request body is not valid {ctype} ({exc})"]
        return _errors("request body", validator, data)

    def check_response(
        self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> list[str]:
        """Problems of one response: declared status, content type and body schema."""
        where = f"{method} {path} -> {status}"
        operation = self.find_operation(method, path)
        if operation is None:
            return [f"{where}: no such operation in the description"]
        declared = operation.responses.get(str(status), operation.responses.get("default"))
        if declared is None:
            return [f"{where}: status {status} is not declared (nor a default)"]
        if not declared:
            return [f"{where}: status {status} declares no body, but one was sent"] if body else []
        ctype = _media_type(headers)
        validator = declared.get(ctype)
        if validator is None:
            return [f"{where}: response Content-Type {ctype!r} is not one of {sorted(declared)}"]
        try:
            data = json.loads(body)
        except ValueError as exc:
            return [f"{where}: the response body is not valid JSON ({exc})"]
        return [f"{where}: {p}" for p in _errors("response body", validator, data)]


def _media_type(headers: Mapping[str, str]) -> str:
    value = headers.get("Content-Type") or headers.get("content-type") or ""
    return value.split(";", 1)[0].strip().lower()


def _check_security(operation: Operation, headers: Mapping[str, str]) -> list[str]:
    if not operation.security:
        return []
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    scheme = authorization.partition(" ")[0].lower()
    wanted = {"basic" if "basic" in r else "bearer" for r in operation.security}
    if scheme not in wanted:
        return [f"the Authorization header must use {' or '.join(sorted(wanted))}"]
    return []


def _check_values(param: Parameter, values: list[str]) -> list[str]:
    label = f"{param.location} parameter {param.name!r}"
    if param.schema.get("type") == "array":
        items = param.schema.get("items", {})
        kind = items.get("type", "string") if "$ref" not in items else "string"
        converted: list[Any] = []
        for value in values:
            typed, ok = _typed(value, kind)
            if not ok:
                return [f"{label}: {value!r} is not a {kind}"]
            converted.append(typed)
        return _errors(label, param.validator, converted)
    if len(values) > 1:
        return [f"{label} is given {len(values)} times"]
    typed, ok = _typed(values[0], param.schema.get("type", "string"))
    if not ok:
        return [f"{label}: {values[0]!r} is not a {param.schema.get('type')}"]
    return _errors(label, param.validator, typed)


def _typed(value: str, kind: str) -> tuple[Any, bool]:
    if kind == "integer":
        return (int(value), True) if re.fullmatch(r"-?\d+", value) else (value, False)
    if kind == "number":
        try:
            return float(value), True
        except ValueError:
            return value, False
    if kind == "boolean":
        return (value == "true", True) if value in ("true", "false") else (value, False)
    return value, True


def _errors(label: str, validator: Draft202012Validator, data: Any) -> list[str]:
    found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    messages = (f"{label} at {_json_path(e.absolute_path)}: {_short(e.message)}" for e in found)
    return list(dict.fromkeys(messages))


def _json_path(parts: Iterable[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
