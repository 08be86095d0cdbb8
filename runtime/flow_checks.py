"""Checking one flow file against the registry, gathering every problem at its JSON path.

:class:`FlowChecker` reads the file with the :mod:`runtime.flow_spec` models, then checks what
the models cannot: component types, ports, wires, properties against each manifest's schema,
cycles and the variables of templates. It reports every problem at once and keeps what the
compiler needs (manifests, defaulted properties, compiled templates) for a flow with none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from runtime.chosen_auth import chosen_manifest
from runtime.errors import Problem
from runtime.flow_spec import ComponentSpec, FlowSpec
from runtime.flow_wiring import Upstream, Wires, cycles
from runtime.mapping import (
    COMPONENT_ID_PATTERN,
    Template,
    Variable,
    compile_template,
    fresh,
    json_path,
    scan_template,
)
from runtime.problems import (
    cap,
    did_you_mean,
    json_type,
    pydantic_problems,
    schema_problems,
    schema_validator,
)
from runtime.schema_cost import schema_cost_problems
from runtime.settings import DEFAULT_MAX_COMPONENTS
from runtime.transform_checks import InPort, missing_path, transform_problems

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from runtime.manifest import ComponentManifest, Port
    from runtime.registry import Registry

MAX_COMPONENTS = DEFAULT_MAX_COMPONENTS
"""Components a flow may have unless told otherwise (``FLOWMIXER_MAX_COMPONENTS``)."""
MAX_PROBLEMS = 1000
"""Problems reported at most: a flow with more is refused all the same."""
SCHEMA_PROPERTY = "x-flowmixer-json-schema"
"""Marks a property, in a manifest's properties schema, whose value is a JSON Schema that the
component validates with (``flowmixer.core.Webhook``'s ``schema``): checked for its cost."""


@dataclass
class CheckedNode:
    """One component of the flow as checked: its spec, manifest and what the compiler needs."""

    spec: ComponentSpec
    manifest: ComponentManifest | None
    path: str
    # the wires into it; a trigger's are refused and ignored, so they make no cycle
    sources: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)


class FlowChecker:
    """Walks one flow, gathering every problem in :attr:`problems`.

    Its time is linear in the flow's size; a flow of more than ``max_components`` components
    is refused before anything else is checked.
    """

    def __init__(self, registry: Registry, *, max_components: int = MAX_COMPONENTS) -> None:
        self.registry = registry
        self.max_components = max_components
        self.problems: list[Problem] = []
        self._validators: dict[str, Validator] = {}  # by manifest name
        self._costly: dict[str, list[Problem]] = {}  # in-port schema problems, by manifest name
        self._in_ports: dict[tuple[str, str], InPort] = {}  # by manifest name and port
        self._upstream: Upstream | None = None
        self.nodes: dict[str, CheckedNode] = {}
        # every id in the file, also of components too broken to check further
        self.declared: set[str] = set()
        self.kept: set[str] = set()

    def report(self, path: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, cap(message)))

    def wires(self) -> Wires:
        return {cid: node.sources for cid, node in self.nodes.items()}

    def check(self, data: Any) -> FlowSpec | None:
        """The spec of the flow ``data`` when it has no problem (nor any reported before)."""
        if not isinstance(data, dict):
            self.report("$", f"a flow must be a JSON object, not {json_type(data)}")
            return None
        try:
            spec: FlowSpec | None = FlowSpec.model_validate(data)
        except ValidationError as exc:
            spec = None
            self.problems.extend(pydantic_problems(exc, FlowSpec))
        components = data.get("components")
        if not isinstance(components, dict):
            return None
        if not components:
            self.report("$.components", "is empty; a flow needs at least one component")
        if len(components) > self.max_components:
            self.report(
                "$.components",
                f"has {len(components)} components; a flow may have at most"
                f" {self.max_components}: split it into several flows",
            )
            return None
        self.declared = set(components)
        for cid, raw in components.items():
            self.read_component(cid, raw)
        for cid, node in self.nodes.items():
            self.check_wiring(cid, node)
            self.check_properties(node)
            self.check_port_schemas(node)
        wires = self.wires()
        self.check_cycles(wires)
        self._upstream = Upstream(wires)
        for cid, node in self.nodes.items():
            self.check_templates(cid, node)
        if spec is not None:
            self.check_accounts(spec.accounts)
        return None if self.problems else spec

    def check_accounts(self, accounts: dict[str, str]) -> None:
        """Each named account is of a service that some component of the flow calls."""
        auths = [n.manifest.auth for n in self.nodes.values() if n.manifest is not None]
        used = {auth.service for auth in auths if auth is not None and auth.secret is None}
        keyed = {auth.service for auth in auths if auth is not None and auth.secret is not None}
        for service, account in accounts.items():
            path = json_path("$.accounts", service)
            if service in keyed and service not in used:
                self.report(
                    path,
                    f'this flow calls "{service}" with a header secret of its app configuration,'
                    " which has no accounts: remove this entry",
                )
            elif service not in used:
                services = _quoted(sorted(used)) if used else "none"
                self.report(
                    path,
                    f'no component of this flow calls the service "{service}"'
                    f" (services called: {services})",
                )
            elif not account.strip():
                self.report(path, "the account name is empty")

    def read_component(self, cid: str, raw: Any) -> None:
        path = json_path("$.components", cid)
        if not COMPONENT_ID_PATTERN.match(cid):
            self.report(
                path,
                f'the component id "{cid}" must start with a letter and hold only letters,'
                ' digits, "_" and "-"',
            )
        try:
            spec = ComponentSpec.model_validate(raw)
        except ValidationError as exc:
            self.problems.extend(pydantic_problems(exc, ComponentSpec, root=path))
            return
        manifest = self.registry.find(spec.type)
        if manifest is None:
            hint = did_you_mean(spec.type, self.registry.names())
            self.report(f"{path}.type", f'unknown component type "{spec.type}"{hint}')
        trigger = manifest is not None and manifest.is_trigger
        self.nodes[cid] = CheckedNode(spec, manifest, path, {} if trigger else spec.source)

    def check_wiring(self, cid: str, node: CheckedNode) -> None:
        manifest, spec = node.manifest, node.spec
        if manifest is not None and manifest.is_trigger:
            what = f'component "{cid}" is a trigger ({manifest.name} has no in-ports)'
            if spec.source:
                self.report(f"{node.path}.source", f"{what}, so it cannot have a source")
            if spec.config.transform:
                where = f"{node.path}.config.transform"
                self.report(where, f"{what}, so it has no input to transform")
            return
        for port in spec.config.transform:
            if manifest is not None and manifest.in_port(port) is None:
                where = json_path(f"{node.path}.config.transform", port)
                self.report(where, _no_port(cid, "in", port, manifest.in_ports))
        for port, feeds in node.sources.items():
            at = json_path(f"{node.path}.source", port)
            if manifest is not None and manifest.in_port(port) is None:
                self.report(at, _no_port(cid, "in", port, manifest.in_ports))
            for source_id, ports in feeds.items():
                self.check_feed(json_path(at, source_id), source_id, ports)

    def check_feed(self, at: str, source_id: str, ports: list[str]) -> None:
        source = self.nodes.get(source_id)
        if source is None and source_id in self.declared:
            return  # its own problems are reported
        if source is None:
            hint = did_you_mean(source_id, self.nodes)
            self.report(at, f'there is no component "{source_id}" in this flow{hint}')
            return
        if not ports:
            self.report(at, 'lists no out-ports; name the ones to take messages from, e.g. ["out"]')
        for i, port in enumerate(ports):
            if port in ports[:i]:
                self.report(json_path(at, i), f'lists the out-port "{port}" twice')
            elif source.manifest is not None and source.manifest.out_port(port) is None:
                outs = source.manifest.out_ports
                self.report(json_path(at, i), _no_port(source_id, "out", port, outs))

    def check_properties(self, node: CheckedNode) -> None:
        manifest, properties = node.manifest, dict(node.spec.config.properties)
        if manifest is None:
            return
        at = f"{node.path}.config.properties"
        schema = manifest.properties.schema_
        errors = []
        if schema:
            validator = self._validators.get(manifest.name)
            if validator is None:
                validator = self._validators[manifest.name] = schema_validator(schema)
            errors = schema_problems(schema, properties, at, validator=validator)
        for error in errors:
            self.report(error.path, error.message)
        if errors:
            return
        declared = schema.get("properties")
        for key, sub in declared.items() if isinstance(declared, dict) else ():
            if isinstance(sub, dict) and "default" in sub and key not in properties:
                properties[key] = fresh(sub["default"])
            if isinstance(sub, dict) and sub.get(SCHEMA_PROPERTY) and key in properties:
                self.check_schema_value(properties[key], json_path(at, key))
        interval = properties.get("interval")
        if manifest.tick is not None and "interval" in properties and not _positive(interval):
            self.report(f"{at}.interval", "must be a number of seconds greater than 0")
        if manifest.auth_property is not None:  # the flow names the service: plan with it
            services = self.registry.services()
            node.manifest, chosen = chosen_manifest(manifest, properties, services, at)
            for problem in chosen:
                self.report(problem.path, problem.message)
        node.properties = fresh(properties)  # the plan must not share data with the caller

    def check_schema_value(self, schema: Any, at: str) -> None:
        """A JSON Schema given in the flow: valid, and not too expensive to validate with."""
        costly = schema_cost_problems(schema, at)
        for problem in costly:
            self.report(problem.path, problem.message)
        if costly:
            return
        try:
            schema_validator(schema).check_schema(schema)
        except SchemaError as exc:
            where = json_path(at, *exc.absolute_path)
            self.report(where, f"is not a valid JSON Schema: {exc.message}")

    def check_port_schemas(self, node: CheckedNode) -> None:
        """The manifest's in-port schemas are not too expensive (checked once per type)."""
        manifest = node.manifest
        if manifest is None:
            return
        found = self._costly.get(manifest.name)
        if found is None:
            found = self._costly[manifest.name] = [
                problem
                for index, port in enumerate(manifest.in_ports)
                for problem in schema_cost_problems(port.schema_, f"$.inPorts[{index}].schema")
            ]
        for problem in found:
            self.report(
                f"{node.path}.type",
                f"the manifest of {manifest.name} has an in-port schema too expensive to"
                f" validate with, at {problem.path}: {problem.message}",
            )

    def check_cycles(self, wires: Wires) -> None:
        for cycle in cycles(wires):
            at = f"{json_path('$.components', cycle[0])}.source"
            if len(cycle) == 1:
                message = f'component "{cycle[0]}" is wired to itself'
            else:
                message = f"components {_quoted([*cycle, cycle[0]], ' -> ')} form a cycle"
            self.report(at, f"{message}: a message would go round forever; remove one wire")

    def check_templates(self, cid: str, node: CheckedNode) -> None:
        if node.manifest is not None and node.manifest.is_trigger:
            return
        for port, value in node.spec.config.transform.items():
            at = json_path(f"{node.path}.config.transform", port)
            variables, errors = scan_template(value, at)
            for error in errors:
                self.report(error.path, error.message)
            for variable in variables:
                wrong = self.wrong_reference(cid, variable.component_id, variable.port)
                wrong = wrong or self.missing_path(variable)
                if wrong:
                    self.report(variable.location, f"variable {variable.text} {wrong}")
                else:
                    self.kept.add(variable.component_id)
            if not errors:
                node.templates[port] = compile_template(value, at)
                self.check_transform(node, port, value, at)

    def check_transform(self, node: CheckedNode, port: str, value: Any, at: str) -> None:
        """The transform of ``port`` against the in-port's schema (once the schema is cheap)."""
        manifest = node.manifest
        if manifest is None or self._costly.get(manifest.name):
            return
        key = (manifest.name, port)
        checked = self._in_ports.get(key)
        if checked is None:
            in_port = manifest.in_port(port)
            if in_port is None or not in_port.schema_:
                return
            name = f'the input of {manifest.name} (in-port "{port}")'
            schema = in_port.schema_
            checked = self._in_ports[key] = InPort(schema, schema_validator(schema), name)
        for problem in transform_problems(checked, value, at):
            self.report(problem.path, problem.message)

    def missing_path(self, variable: Variable) -> str | None:
        """Why the upstream out-port's schema says ``variable`` reads nothing, if it does."""
        source = self.nodes.get(variable.component_id)
        if source is None or source.manifest is None or not variable.path:
            return None
        schema: Any = None
        said = f"the out-port schema of {source.manifest.name} says so"
        if source.manifest.webhook:  # a webhook sends its event unchanged, as its schema says
            marked = source.manifest.properties.schema_.get("properties")
            for name, sub in marked.items() if isinstance(marked, dict) else ():
                if isinstance(sub, dict) and sub.get(SCHEMA_PROPERTY):
                    schema = source.properties.get(name, schema)
                    said = f'the schema of webhook "{variable.component_id}" says so'
        if schema is None:
            out = source.manifest.out_port(variable.port)
            schema = out.schema_ if out is not None else None
        base = f"$.{variable.component_id}.{variable.port}"
        reason = missing_path(schema, variable.path, base)
        if reason is None:
            return None
        return f"reads a path that cannot exist ({said}): {reason}"

    def wrong_reference(self, cid: str, ref: str, port: str) -> str | None:
        source = self.nodes.get(ref)
        if source is None and ref in self.declared:
            return None  # its own problems are reported
        if source is None:
            return (
                f'reads component "{ref}", which is not in this flow{did_you_mean(ref, self.nodes)}'
            )
        if source.manifest is not None and source.manifest.out_port(port) is None:
            outs = source.manifest.out_ports
            return f"reads a port that does not exist: {_no_port(ref, 'out', port, outs)}"
        upstream = self._upstream
        if upstream is None or upstream.feeds(ref, port, cid) is not False:
            return None
        feeders = upstream.components(cid)
        if ref not in feeders:
            return (
                f'reads component "{ref}", which is not upstream of "{cid}" (no wires lead from'
                f' it to "{cid}"), so its output is unknown when "{cid}" runs; upstream of'
                f' "{cid}": {_quoted(sorted(feeders)) or "no component"}'
            )
        used = ", ".join(upstream.ports(ref, cid))
        return (
            f'reads the out-port "{port}" of component "{ref}", but no wire from that port leads'
            f' to "{cid}", so the value would always be missing; its ports that do: {used}'
        )


def _no_port(cid: str, kind: str, port: str, ports: Iterable[Port]) -> str:
    names = [p.name for p in ports]
    listed = f"its {kind}-ports are: {', '.join(names)}" if names else f"it has no {kind}-ports"
    return f'component "{cid}" has no {kind}-port "{port}"; {listed}{did_you_mean(port, names)}'


def _quoted(names: Iterable[str], between: str = ", ") -> str:
    return between.join(f'"{name}"' for name in names)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
