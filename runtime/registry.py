"""The manifest registry: every component and service manifest, checked, with handler classes.

:meth:`Registry.load` reads every ``*.json`` under its roots (by default the ``manifests``
package, wherever flowmixer is installed): ``service.json`` files are service manifests, the
others component manifests. It refuses the whole set with one :class:`ManifestError` listing
every problem in every file, each as ``<file> <JSON path>``. A component's ``auth.service``
must name a service of the set, and its scopes and quota resources must be ones that service
lists (when it lists any).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import ValidationError

from runtime.component import Component
from runtime.errors import ConfigurationError, ManifestError, Problem
from runtime.manifest import HANDLER_PATTERN, ComponentManifest, ServiceManifest
from runtime.mapping import json_path
from runtime.problems import did_you_mean, json_type, parse_json, pydantic_problems


@dataclass(frozen=True, slots=True)
class RegisteredComponent:
    """A checked component manifest, its imported handler class and the file it came from."""

    manifest: ComponentManifest
    handler: type[Component]
    source: str


class UnknownComponentError(ConfigurationError, KeyError):
    """No component of that name is registered (also a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    """The known components and services, by name. Build it with :meth:`load`."""

    def __init__(
        self,
        components: Iterable[RegisteredComponent] = (),
        services: Iterable[ServiceManifest] = (),
    ) -> None:
        self._components = {c.manifest.name: c for c in components}
        self._services = {s.service: s for s in services}

    @classmethod
    def load(cls, *roots: str | os.PathLike[str] | Traversable) -> Registry:
        """Load and check every manifest under ``roots`` (folders, or single ``.json`` files).

        Raises :class:`ManifestError` listing every problem of every broken file.
        """
        chosen = roots or (files("manifests"),)
        loader = _Loader()
        for root in chosen:
            # with several roots, files are named in full: two roots may share relative paths
            prefix = f"{root}/" if len(chosen) > 1 else ""
            loader.read_root(root if isinstance(root, Traversable) else Path(root), prefix)
        components = loader.finish()
        if loader.found:
            raise ManifestError(", ".join(str(r) for r in chosen), loader.sorted_problems())
        return cls(components, (service for service, _ in loader.services.values()))

    def get(self, name: str) -> ComponentManifest:
        """The manifest of component ``name``; :class:`UnknownComponentError` if there is none."""
        return self._entry(name).manifest

    def find(self, name: str) -> ComponentManifest | None:
        """The manifest of component ``name``, or ``None``."""
        entry = self._components.get(name)
        return None if entry is None else entry.manifest

    def handler(self, name: str) -> type[Component]:
        """The handler class of component ``name`` (imported and checked at load)."""
        return self._entry(name).handler

    def source_of(self, name: str) -> str:
        """The file component ``name`` was loaded from."""
        return self._entry(name).source

    def components(self) -> list[ComponentManifest]:
        """Every component manifest, sorted by name."""
        return [self._components[name].manifest for name in sorted(self._components)]

    def names(self) -> list[str]:
        """Every component name, sorted."""
        return sorted(self._components)

    def services(self) -> dict[str, ServiceManifest]:
        """Every service manifest by service name (``vendor:service``)."""
        return dict(self._services)

    def service(self, name: str) -> ServiceManifest | None:
        """The service manifest ``name`` (``vendor:service``), or ``None``."""
        return self._services.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def __len__(self) -> int:
        return len(self._components)

    def _entry(self, name: str) -> RegisteredComponent:
        entry = self._components.get(name)
        if entry is None:
            hint = did_you_mean(name, self._components) or "; no component has a similar name"
            raise UnknownComponentError(f'unknown component type "{name}"{hint}')
        return entry


class _Loader:
    """Reads manifest files and gathers their problems as ``(file, Problem)``."""

    def __init__(self) -> None:
        self.found: list[tuple[str, Problem]] = []
        self.services: dict[str, tuple[ServiceManifest, str]] = {}
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
            handler = _import_handler(spec)
        except ValueError as exc:
            self.report(rel, "$.handler", str(exc))
            return
        if manifest is not None and schemas_ok:
            self.pending.append((manifest, handler, rel, source))

    def finish(self) -> list[RegisteredComponent]:
        """Check what spans files (names, services) and return the components that passed."""
        seen: dict[str, str] = {}
        accepted: list[RegisteredComponent] = []
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
            seen[manifest.name] = rel
            problems = list(_service_problems(manifest, services))
            for path, message in problems:
                self.report(rel, path, message)
            if not problems:
                accepted.append(RegisteredComponent(manifest, handler, source))
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


def _import_handler(spec: str) -> type[Component]:
    """The class named by ``module:Class``; ``ValueError`` with a sentence when it is unusable."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure while importing a handler makes the manifest unusable
        raise ValueError(
            f'names the module "{module_name}", which cannot be imported'
            f" ({type(exc).__name__}: {exc})"
        ) from None
    handler = getattr(module, attribute, None)
    if handler is None:
        hint = did_you_mean(attribute, [n for n in vars(module) if not n.startswith("_")])
        raise ValueError(f'names "{attribute}", which module "{module_name}" lacks{hint}')
    if not (isinstance(handler, type) and issubclass(handler, Component)):
        raise ValueError(
            f'names "{spec}", which is not a component class;'
            " a handler must be a subclass of runtime.component.Component"
        )
    return handler
