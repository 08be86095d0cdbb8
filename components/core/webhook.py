"""Webhook: a trigger that passes on each pushed event, optionally checked against a schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from runtime.component import Component
from runtime.errors import CancelError, ConfigurationError
from runtime.fast_schema import fast_verdict
from runtime.schema_cost import schema_cost_problems

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runtime.component import Context

_MAX_PROBLEM = 200


class Webhook(Component):
    """Sends each pushed event on ``out`` unchanged; refuses events that miss ``schema``."""

    def __init__(self) -> None:
        self._validator: Draft202012Validator | None = None
        self._passes: Callable[[Any], bool] = bool

    async def start(self, context: Context) -> None:
        schema = context.properties.get("schema")
        if schema is None:
            return
        # A checked flow was refused already for these; a plan built in code is checked here.
        costly = schema_cost_problems(schema, "$.schema")
        if costly:
            raise ConfigurationError(
                f"property 'schema' is too expensive to validate with: {costly[0]}"
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ConfigurationError(
                f"property 'schema' is not a valid JSON Schema: {exc.message}"
            ) from exc
        self._validator = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        fast = fast_verdict(schema, self._validator, formats=True)
        self._passes = fast or self._validator.is_valid

    async def receive(self, context: Context) -> None:
        event = context.message
        if self._validator is not None and not self._passes(event):
            error = best_match(self._validator.iter_errors(event))
            if error is not None:
                raise CancelError(f"the event does not match the webhook schema: {describe(error)}")
        await context.send(event)


def describe(error: ValidationError) -> str:
    """A sentence naming the failing field (``$`` is the event itself) and what is wrong."""
    steps = list(error.absolute_path)
    required = error.validator_value if error.validator == "required" else None
    if isinstance(required, list) and isinstance(error.instance, dict):
        missing = [name for name in required if name not in error.instance]
        if missing:
            return f"field {_json_path([*steps, missing[0]])} is missing"
    problem = error.message
    if len(problem) > _MAX_PROBLEM:  # the message quotes the value, which may be large
        problem = problem[: _MAX_PROBLEM - 3] + "..."
    return f"field {_json_path(steps)} is invalid: {problem}"


def _json_path(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
