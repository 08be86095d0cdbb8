"""The files ``flowmixer new component`` writes: a manifest, a handler and its test.

Each template is filled with :meth:`str.format` (literal braces doubled); the manifests are
built as data and dumped, so they are valid JSON whatever the name.
"""

from __future__ import annotations

import json
from typing import Any

ACTION_HANDLER = '''\
"""{label}: {description}"""

from __future__ import annotations

from runtime import CancelError, Component, Context


class {cls}(Component):
    """Sends the text it gets with the ``prefix`` property before it."""

    async def receive(self, context: Context) -> None:
        text = context.message["text"]  # the in-port schema makes sure it is a string
        if not text.strip():
            # A message that can never succeed is dropped to the dead letters, not retried.
            raise CancelError("the text is blank")
        prefix = context.properties.get("prefix", "")
        await context.send({{"text": f"{{prefix}}{{text}}"}})
'''

TRIGGER_HANDLER = '''\
"""{label}: {description}"""

from __future__ import annotations

from runtime import Component, Context


# To send each new item of a service's listing, subclass runtime.connector.PollingTrigger
# instead: it keeps the ledger that neither misses nor repeats an item (docs/components.md,
# "State and polling triggers").
class {cls}(Component):
    """Sends ``{{"count": n}}`` on each tick, counting on from its saved state."""

    async def tick(self, context: Context) -> None:
        # Send what was found, then record it: a tick commits its sends and state writes
        # together on the durable broker, so nothing is missed or sent twice.
        count = await context.state.get("count", 0)
        count += 1
        await context.send({{"count": count}})
        await context.state.set("count", count)
'''

_TEST_SETUP = '''
Run ``python -m pytest`` in this folder (or give it the folder).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime import Engine, MemoryStore, Output, Registry, validate_flow

HERE = Path(__file__).resolve().parent


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    # This folder holds the component: load it as flowmixer does, wherever pytest runs.
    monkeypatch.setenv("FLOWMIXER_COMPONENTS_PATH", str(HERE))
    return Registry.load()

'''
"""What both generated tests begin with, after their docstring's first lines: imports and a
registry that loads the component from the test's own folder."""

ACTION_TEST = (
    '''\
"""{name} in a flow: an event pushed into a webhook reaches it, and its output
leaves the flow.
'''
    + _TEST_SETUP
    + """
def test_{func}_sends_the_text_with_its_prefix(registry: Registry) -> None:
    flow = {{
        "id": "try-{slug}",
        "components": {{
            "hook": {{"type": "flowmixer.core.Webhook"}},
            "step": {{
                "type": "{name}",
                "source": {{"in": {{"hook": ["out"]}}}},
                "config": {{"properties": {{"prefix": "> "}}}},
            }},
        }},
    }}
    plan = validate_flow(flow, registry)
    outputs: list[Output] = []

    async def scenario() -> None:
        async with Engine(MemoryStore(), on_output=outputs.append) as engine:
            await engine.start_flow(plan)
            await engine.push("try-{slug}", "hook", {{"text": "hello"}})
            await engine.wait_idle()

    asyncio.run(scenario())
    sent = [(o.component_id, o.payload) for o in outputs]
    assert sent == [("step", {{"text": "> hello"}})]
"""
)

TRIGGER_TEST = (
    '''\
"""{name} in a flow: it sends on its first tick, and counts on from its state
after a restart.
'''
    + _TEST_SETUP
    + """
def test_{func}_counts_on_from_its_state_after_a_restart(registry: Registry) -> None:
    # A long interval: the first tick comes at once, the next not during the test.
    flow = {{
        "id": "try-{slug}",
        "components": {{
            "poll": {{
                "type": "{name}",
                "config": {{"properties": {{"interval": 3600}}}},
            }},
        }},
    }}
    plan = validate_flow(flow, registry)
    store = MemoryStore()  # kept across both runs, as a flow's state is
    counts: list[int] = []

    async def run_once() -> None:
        outputs: list[Output] = []
        sent = asyncio.Event()

        def keep(output: Output) -> None:
            outputs.append(output)
            sent.set()

        async with Engine(store, on_output=keep) as engine:
            await engine.start_flow(plan)
            await asyncio.wait_for(sent.wait(), timeout=30)
            await engine.stop_flow("try-{slug}")
        counts.append(outputs[0].payload["count"])

    asyncio.run(run_once())
    asyncio.run(run_once())
    assert counts == [1, 2]
"""
)


def action_manifest(name: str, label: str, handler: str) -> dict[str, Any]:
    """The manifest of an action: one in-port ``in`` taking ``text``, one out-port ``out``."""
    text = {"type": "string", "description": "The text to send on."}
    return {
        "name": name,
        "label": label,
        "description": "Sends the text it gets with a prefix before it.",
        "version": "0.1.0",
        "handler": handler,
        "properties": {
            "schema": {
                "type": "object",
                "properties": {
                    "prefix": {
                        "type": "string",
                        "default": "",
                        "description": "Put before the text.",
                    }
                },
                "additionalProperties": False,
            }
        },
        "inPorts": [
            {
                "name": "in",
                "schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {
                        "text": {
                            **text,
                            "minLength": 1,
                            # said instead of the validator's words when the text is refused
                            "errorMessage": "must be a string of at least one character",
                        }
                    },
                },
            }
        ],
        "outPorts": [
            {
                "name": "out",
                "schema": {"type": "object", "required": ["text"], "properties": {"text": text}},
            }
        ],
    }


def trigger_manifest(name: str, label: str, handler: str) -> dict[str, Any]:
    """The manifest of a polling trigger: ``tick`` every 60 s, one out-port ``out``."""
    return {
        "name": name,
        "label": label,
        "description": "Sends a count that goes up by one on each tick.",
        "version": "0.1.0",
        "handler": handler,
        "tick": {"interval": 60},
        "properties": {
            "schema": {
                "type": "object",
                "properties": {
                    "interval": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "Seconds between ticks (default 60).",
                    }
                },
                "additionalProperties": False,
            }
        },
        "outPorts": [
            {
                "name": "out",
                "schema": {
                    "type": "object",
                    "required": ["count"],
                    "properties": {
                        "count": {"type": "integer", "description": "Ticks so far, from 1."}
                    },
                },
            }
        ],
    }


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2) + "\n"
