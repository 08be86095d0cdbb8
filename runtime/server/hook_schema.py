"""The event schemas of running webhook triggers, checked on the server's front before a commit.

An event that does not match its webhook's schema is refused with 422 and every problem at its
JSON path, having committed nothing, rather than answered 202 and sent to the dead letters by
the trigger. The schema is a property of the trigger marked ``x-flowmixer-json-schema`` (the
``schema`` of ``flowmixer.core.Webhook``); it is compiled once per start of a flow, when its
first event comes. The flow's checks bounded what validating with it costs (see
:mod:`runtime.schema_cost`), so it runs on the front's loop without holding up the engine's.
The trigger keeps checking too: events pushed by other ways meet the same schema.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from runtime.errors import Problem
from runtime.fast_schema import fast_verdict
from runtime.flow_checks import SCHEMA_PROPERTY
from runtime.problems import cap, schema_problems
from runtime.schema_cost import schema_cost_problems

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.engine import Engine
    from runtime.flow_runner import FlowRunner
    from runtime.plan import NodePlan

_Checks = dict[str, tuple[dict[str, Any], Draft202012Validator, "Callable[[Any], bool]"]]


class HookSchemas:
    """The compiled event schemas of each running flow's webhook triggers."""

    def __init__(self) -> None:
        # keyed by the runner, which is new at each start: a redeployed schema is compiled anew
        self._flows: weakref.WeakKeyDictionary[FlowRunner, _Checks] = weakref.WeakKeyDictionary()

    def problems(
        self, engine: Engine, flow_id: str, component_id: str, event: Any
    ) -> list[Problem]:
        """Every way ``event`` breaks the schema of webhook ``component_id``; none when the
        flow is not running or the trigger has no schema."""
        runner = engine.runner_of(flow_id)
        if runner is None:
            return []
        checks = self._flows.get(runner)
        if checks is None:
            checks = self._flows[runner] = _compile(runner)
        check = checks.get(component_id)
        if check is None:
            return []
        schema, validator, passes = check
        if passes(event):
            return []
        found = schema_problems(schema, event, "$", validator=validator)
        return [Problem(problem.path, cap(problem.message)) for problem in found]


def _compile(runner: FlowRunner) -> _Checks:
    checks: _Checks = {}
    for cid, node in runner.nodes.items():
        schema = _event_schema(node.plan)
        if schema is not None:
            validator = Draft202012Validator(schema, format_checker=_FORMATS)
            passes = fast_verdict(schema, validator, formats=True) or validator.is_valid
            checks[cid] = (schema, validator, passes)
    return checks


_FORMATS = Draft202012Validator.FORMAT_CHECKER  # as the Webhook component checks


def _event_schema(plan: NodePlan) -> dict[str, Any] | None:
    """The schema a webhook trigger checks its events with, when it has a usable one (a
    trigger with a broken or costly one does not start, so there is nothing to check)."""
    if not plan.webhook:
        return None
    declared = plan.manifest.properties.schema_.get("properties")
    for name, sub in declared.items() if isinstance(declared, dict) else ():
        schema = plan.properties.get(name)
        if not (isinstance(sub, dict) and sub.get(SCHEMA_PROPERTY) and isinstance(schema, dict)):
            continue
        if schema_cost_problems(schema, "$"):
            return None
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError:
            return None
        return schema
    return None
