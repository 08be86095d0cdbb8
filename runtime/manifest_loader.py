"""Reading manifest files: each checked, every problem kept as ``(file, Problem)``.

:class:`ManifestLoader` reads the ``*.json`` files of a root (``service.json`` files are service
manifests, the others component manifests), imports the handlers and the services' OAuth2 hooks,
then :meth:`finish <ManifestLoader.finish>` checks what spans files.
:class:`~runtime.registry.Registry` decides what a problem means: the whole set refused
(built-in roots) or one plug-in left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import ValidationError

from runtime.chosen_auth import auth_problems
from runtime.component import Component
from runtime.errors import Problem
from runtime.manifest import HANDLER_PATTERN, ComponentManifest, ServiceManifest
from runtime.mapping import json_path
from runtime.named_classes import import_named
from runtime.problems import did_you_mean, json_type, parse_json, pydantic_problems
from runtime.service_checks import alias_problems, load_hooks

if TYPE_CHECKING:
    from runtime.auth.oauth2 import OAuth2Hooks


@dataclass(frozen=True, slots=True)
class RegisteredComponent:
    """A checked component manifest, its imported handler class and the file it came from;
    ``plugin`` names the plug-in that added it (``None``: built in)."""

    manifest: ComponentManifest
    handler: type[Component]
    source: str
    plugin: str | None = None


class ManifestLoader:
    """Reads manifest files and gathers their problems as ``(file, Problem)``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder  # a plug-in folder, whose handler modules must import from it
        self.found: list[tuple[str, Problem]] = []
        self.services: dict[str, tuple[ServiceManifest, str]] = {}
        self.hooks: dict[str, OAuth2Hooks] = {}  # of the services whose manifest names some
        self.pending: list[tuple[ComponentManifest, type[Component], str, str]] = []

    def sorted_problems(self) -> list[Problem]:
        ordered = sorted(self.found, key=lambda item: item[0])
        return [Problem(f"{where} {p.path}", p.message) for where, p in ordered]

    def report(self, where: str, path: str, message: str) -> None:
        self.found.append((where, Problem(path, message)))

    def read_root(self, root: Traversable, prefix: str) -> None:
        if not root.is_dir() and not root.is_file():
            self.report(str(root), "$", "does not exist: no manifests can be loaded from it")
            return
        for rel, file in _json_files(root, prefix) if root.is_dir() else [(str(root), root)]:
            data = self.read_json(rel, file)
            if data is None:
                continue
            if file.name == "service.json":
                self.read_service(rel, data)
            else:
                self.read_component(rel, str(file), data)

    def read_json(self, rel: str, file: Traversable) -> dict[str, Any] | None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.report(rel, "$", f"cannot be read: {exc}")
            return None
        data, problems = parse_json(text)
        for problem in problems:
            self.report(rel, problem.path, problem.message)
        if data is not None and not isinstance(data, dict):
            self.report(rel, "$", f"must be a JSON object, not {json_type(data)}")
            return None
        return data

    def read_service(self, rel: str, data: dict[str, Any]) -> None:
        try:
            service = ServiceManifest.model_validate(data)
        except ValidationError as exc:
            for problem in pydantic_problems(exc, ServiceManifest):
                self.report(rel, problem.path, problem.message)
            return
        if service.service in self.services:
            self.report(
                rel,
                "$.service",
                f'the service "{service.service}" is already defined in'
                f" {self.services[service.service][1]}; service names must be unique",
            )
            return
        self.services[service.service] = (service, rel)
        for path, message in alias_problems(service):
            self.report(rel, path, message)
        try:
            hooks = load_hooks(service, self.folder)
        except ValueError as exc:
            self.report(rel, "$.oauth2.hooks", str(exc))
            return
        if hooks is not None:
            self.hooks[service.service] = hooks

    def read_component(self, rel: str, source: str, data: dict[str, Any]) -> None:
        # The schema and handler checks read the raw data, so they run (and report) even when
        # other fields are broken.
        try:
            manifest: ComponentManifest | None = ComponentManifest.model_validate(data)
        except ValidationError as exc:
            manifest = None
            for problem in pydantic_problems(exc, ComponentManifest):
                self.report(rel, problem.path, problem.message)
        schemas_ok = True
        for path, message in _schema_problems(data):
            self.report(rel, path, message)
            schemas_ok = False
        spec = data.get("handler")
        if not isinstance(spec, str) or not HANDLER_PATTERN.match(spec):
            return  # reported by the model
        try:
            handler = import_named(
                spec, Component, noun="a component class", role="a handler", folder=self.folder
            )
        except ValueError as exc:
            self.report(rel, "$.handler", str(exc))
            return
        if manifest is not None and schemas_ok:
            self.pending.append((manifest, handler, rel, source))

    def finish(
        self,
        services: dict[str, ServiceManifest] | None = None,
        taken: dict[str, str] | None = None,
        plugin: str | None = None,
    ) -> list[RegisteredComponent]:
        """Check what spans files (names, services) and return the components that passed.

        ``services``: those a component may name (default: this loader's); ``taken``: names
        defined elsewhere already, with where (extended with the accepted ones).
        """
        seen: dict[str, str] = {} if taken is None else taken
        accepted: list[RegisteredComponent] = []
        if services is None:
            services = {name: service for name, (service, _) in self.services.items()}
        for manifest, handler, rel, source in self.pending:
            if manifest.name in seen:
                self.report(
                    rel,
                    "$.name",
                    f'the component "{manifest.name}" is already defined in {seen[manifest.name]};'
                    " component names must be unique",
                )
                continue
            seen[manifest.name] = rel if plugin is None else f"{rel} of the plug-in {plugin}"
            problems = list(_service_problems(manifest, services))
            for path, message in problems:
                self.report(rel, path, message)
            if not problems:
                accepted.append(RegisteredComponent(manifest, handler, source, plugin))
        return accepted


def _service_problems(
    manifest: ComponentManifest, services: dict[str, ServiceManifest]
) -> Iterator[tuple[str, str]]:
    """What ``manifest`` asks of its service that the service does not define, as
    ``(JSON path, message)``: the service itself, a scope, a quota resource."""
    if manifest.auth is None:
        return
    name = manifest.auth.service
    service = services.get(name)
    if service is None:
        known = ", ".join(sorted(services)) or "none"
        yield (
            "$.auth.service",
            f'names the service "{name}", which no service.json defines'
            f"{did_you_mean(name, services)}; known services: {known}",
        )
        return
    if manifest.auth.secret is not None:  # a header secret must be one stored encrypted
        for problem in auth_problems(manifest.auth, services, "$.auth"):
            yield problem.path, problem.message
    # a service that lists no scopes (or no quota rules) leaves them unchecked
    offered = service.scopes
    for i, scope in enumerate(manifest.auth.scopes if offered else ()):
        if scope not in offered:
            yield (
                json_path("$.auth.scopes", i),
                f'names the scope "{scope}", which the service "{name}" does not list;'
                f" its scopes are: {', '.join(offered)}{did_you_mean(scope, offered)}",
            )
    limited = list(dict.fromkeys(rule.resource for rule in service.quota))
    used = manifest.quota.resources if manifest.quota is not None and limited else ()
    for i, resource in enumerate(used):
        if resource not in limited:
            yield (
                json_path("$.quota.resources", i),
                f'names the quota resource "{resource}", which no quota rule of the service'
                f' "{name}" limits; its quota resources are: {", ".join(limited)}'
                f"{did_you_mean(resource, limited)}",
            )


def _json_files(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if not child.name.startswith((".", "__")):
                yield from _json_files(child, f"{rel}/")
        elif child.name.endswith(".json"):
            yield rel, child


def _schema_problems(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every JSON Schema of a raw component manifest that is not a valid JSON Schema."""
    properties = data.get("properties")
    schemas = [
        ("$.properties.schema", properties.get("schema") if isinstance(properties, dict) else None)
    ]
    for key in ("inPorts", "outPorts"):
        ports = data.get(key)
        for i, port in enumerate(ports if isinstance(ports, list) else []):
            schema = port.get("schema") if isinstance(port, dict) else None
            schemas.append((json_path("$", key, i, "schema"), schema))
    for path, schema in schemas:
        if not isinstance(schema, dict):
            continue  # absent or of the wrong type: the model reports it
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            where = json_path(path, *exc.absolute_path)
            yield where, f"is not a valid JSON Schema: {exc.message}"
