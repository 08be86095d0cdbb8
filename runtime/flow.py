"""Flow descriptors: checked against the registry, then compiled once into a :class:`FlowPlan`.

A flow file names its components (``components.<id>``), their types, their properties, the
wires between them (``source``) and the templates that shape their input (``transform``).
:func:`validate_flow` finds every problem at once, each at its JSON path, and refuses the
whole flow if there is any; a flow it accepts is compiled so the engine never parses again.
The file's models are in :mod:`runtime.flow_spec`, its checks in :mod:`runtime.flow_checks`.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from runtime.errors import FlowValidationError, Problem
from runtime.fast_schema import fast_verdict
from runtime.flow_checks import MAX_COMPONENTS, CheckedNode, FlowChecker
from runtime.manifest import DEFAULT_TIMEOUT
from runtime.mapping import json_path
from runtime.plan import FlowPlan, NodePlan, PayloadValidator, Route
from runtime.problems import cap, parse_json
from runtime.retry import RetryPolicy

if TYPE_CHECKING:
    import os

    from runtime.flow_spec import FlowSpec
    from runtime.registry import Registry


def validate_flow(
    data: Any,
    registry: Registry,
    *,
    source: str = "<flow>",
    max_components: int = MAX_COMPONENTS,
) -> FlowPlan:
    """Check ``data`` (a parsed flow file) and compile it, in time linear in its size.

    Raises :class:`FlowValidationError` listing every problem when the flow is broken (also
    when it has more than ``max_components`` components).
    """
    return _validate(data, registry, source, [], max_components)


def check_flow(
    data: Any, registry: Registry, *, max_components: int = MAX_COMPONENTS
) -> list[Problem]:
    """Every problem of the flow ``data``; an empty list when it is valid."""
    checker = FlowChecker(registry, max_components=max_components)
    checker.check(data)
    return checker.problems


def load_flow(
    path: str | os.PathLike[str], registry: Registry, *, max_components: int = MAX_COMPONENTS
) -> FlowPlan:
    """Read, check and compile the flow file at ``path``; see :func:`validate_flow`."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowValidationError(where, [Problem("$", "the flow file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowValidationError(where, [Problem("$", f"cannot be read: {exc}")]) from None
    data, problems = parse_json(text)
    if data is None:
        raise FlowValidationError(where, problems)
    return _validate(data, registry, where, problems, max_components)


def payload_validator(schema: dict[str, Any]) -> PayloadValidator | None:
    """A validator of payloads against the JSON Schema ``schema``; ``None`` for ``{}``.

    Its verdict and messages are python-jsonschema's; jsonschema-rs gives the verdict faster
    where it can (:mod:`runtime.fast_schema`)."""
    if not schema:
        return None
    validator = validator_for(schema)(schema)
    passes = fast_verdict(schema, validator) or validator.is_valid

    def validate(payload: Any) -> str | None:
        if passes(payload):
            return None
        error = best_match(validator.iter_errors(payload))  # the fast verdict may be stricter
        if error is None:
            return None
        return cap(f"{json_path('$', *error.absolute_path)}: {error.message}")

    return validate


def _validate(
    data: Any, registry: Registry, source: str, problems: list[Problem], max_components: int
) -> FlowPlan:
    checker = FlowChecker(registry, max_components=max_components)
    checker.problems.extend(problems)
    spec = checker.check(data)
    if spec is None:
        raise FlowValidationError(source, checker.problems)
    return _compile(spec, checker, registry)


def _compile(spec: FlowSpec, checker: FlowChecker, registry: Registry) -> FlowPlan:
    """The plan of a flow ``checker`` found no problem in."""
    routes: dict[str, dict[str, list[Route]]] = {}
    for cid, node in checker.nodes.items():
        assert node.manifest is not None  # an unknown type is a problem: no compilation
        routes[cid] = {p.name: [] for p in node.manifest.out_ports}
    for target, node in checker.nodes.items():
        for in_port, feeds in node.sources.items():
            for source_id, ports in feeds.items():
                for port in ports:
                    routes[source_id][port].append(Route(target, in_port))
    validators: dict[str, dict[str, PayloadValidator]] = {}  # one set per component type
    nodes = {
        cid: _node_plan(
            cid, node, routes[cid], registry, validators, keep_output=cid in checker.kept
        )
        for cid, node in checker.nodes.items()
    }
    retry = spec.retry
    return FlowPlan(
        id=spec.id,
        name=spec.name or spec.id,
        nodes=MappingProxyType(nodes),
        retry=RetryPolicy(retry.max_attempts, retry.base_delay, retry.max_delay, retry.max_elapsed),
        accounts=MappingProxyType(dict(spec.accounts)),
    )


def _node_plan(
    cid: str,
    node: CheckedNode,
    routes: dict[str, list[Route]],
    registry: Registry,
    validators: dict[str, dict[str, PayloadValidator]],
    *,
    keep_output: bool,
) -> NodePlan:
    manifest = node.manifest
    assert manifest is not None
    ports = validators.get(manifest.name)
    if ports is None:
        compiled = {p.name: payload_validator(p.schema_) for p in manifest.in_ports}
        ports = validators[manifest.name] = {p: v for p, v in compiled.items() if v is not None}
    tick = manifest.tick
    return NodePlan(
        id=cid,
        type=manifest.name,
        manifest=manifest,
        handler=registry.handler(manifest.name),
        properties=MappingProxyType(node.properties),
        routes=MappingProxyType({port: tuple(r) for port, r in routes.items()}),
        transforms=MappingProxyType({p: t.render for p, t in node.templates.items()}),
        validators=MappingProxyType(ports),
        concurrency=node.spec.concurrency or manifest.concurrency or 1,
        tick_interval=None
        if tick is None
        else float(node.properties.get("interval", tick.interval)),
        webhook=manifest.webhook,
        keep_output=keep_output,
        timeout=node.spec.timeout or manifest.timeout or DEFAULT_TIMEOUT,
    )
