"""Quotas in a flow, and their rules: the service manifests and their overrides.

The gates' own promises (keys, order, waits, what the service said) are in
``tests/test_quota_contract.py``, run against both quota states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.auth.app_config import AppConfigStore, env_var
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.errors import ConfigurationError, ManifestError
from runtime.manifest import ComponentManifest, QuotaRule
from runtime.plan import FlowPlan, NodePlan, Route
from runtime.quota import Quotas
from runtime.quota_rules import configured_rules, packaged_rules, parse_override, with_override
from runtime.registry import Registry
from runtime.retry import RetryPolicy
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests.kit import Hook
from tests.kit import manifest as kit_manifest

SERVICE = "test:svc"
PINTEREST = "acme:pinterest"


def rule(resource: str = "writes", limit: int = 1, window: float = 60, **more: Any) -> QuotaRule:
    return QuotaRule(resource=resource, limit=limit, window=window, **more)


def quotas(*rules: QuotaRule) -> Quotas:
    return Quotas({SERVICE: rules})


# -- in a flow --------------------------------------------------------------------------------


class Metered(Component):
    """Takes one call of the ``writes`` quota per message, then forwards the message."""

    seen: list[Quotas | None] = []

    async def receive(self, context: Context) -> None:
        Metered.seen.append(context.quotas)
        assert context.quotas is not None
        gate = context.quotas.gate(SERVICE, "writes", account="cook")
        await gate.acquire()
        gate.release()
        await context.send(context.message)


def metered_plan() -> FlowPlan:
    metered = ComponentManifest.model_validate(
        {
            "name": "test.quota.Metered",
            "label": "Metered",
            "description": "uses a quota",
            "handler": "tests.test_quota:Metered",
            "inPorts": [{"name": "in"}],
            "outPorts": [{"name": "out"}],
        }
    )
    nodes = {
        "hook": NodePlan(
            id="hook",
            type="test.kit.Hook",
            manifest=kit_manifest("Hook"),
            handler=Hook,
            properties={},
            routes={"out": (Route("metered", "in"),)},
            webhook=True,
        ),
        "metered": NodePlan(
            id="metered",
            type=metered.name,
            manifest=metered,
            handler=Metered,
            properties={},
            routes={"out": ()},
        ),
    }
    retry = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01)
    return FlowPlan(id="metered", name="metered", nodes=nodes, retry=retry)


async def test_a_message_over_its_max_wait_is_retried_later_and_succeeds_not_lost() -> None:
    shared = quotas(rule(limit=1, window=0.4, max_wait=0))
    outputs: list[Output] = []
    store = MemoryStore()
    Metered.seen = []

    async with Engine(store, on_output=outputs.append, quotas=shared) as engine:
        await engine.start_flow(metered_plan())
        await engine.push("metered", "hook", {"n": 1})
        await engine.push("metered", "hook", {"n": 2})
        await engine.wait_idle("metered")
        stats = engine.stats("metered")["metered"]

    assert sorted(o.payload["n"] for o in outputs) == [1, 2]
    assert await store.list_dead_letters() == []
    assert stats.deferred >= 1, "the second message waited for the engine, not in the gate"
    assert (stats.failed, stats.retried) == (0, 0), "a deferral is neither a failure nor a retry"
    assert set(map(id, Metered.seen)) == {id(shared)}, "every flow gets the engine's quotas"


def test_an_engine_makes_its_quotas_from_the_service_manifests() -> None:
    engine = Engine(MemoryStore())

    assert {r.resource for r in engine.quotas.rules(PINTEREST)} == {
        "*",
        "org_read",
        "org_write",
        "org_analytics",
    }
    assert engine.quotas.rules("nobody:here") == ()


# -- rules and their overrides ------------------------------------------------------------------


def test_pinterests_default_rules_are_its_documented_standard_limits() -> None:
    rules = {(r.resource, r.limit, r.window, r.scope) for r in packaged_rules({})[PINTEREST]}

    assert rules == {
        ("*", 100, 1, "account"),  # 100 calls per second per user per app
        ("org_read", 1000, 60, "account"),  # per minute per user per app
        ("org_write", 100, 60, "account"),
        ("org_analytics", 60, 60, "account"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "org_write=10/60, org_read=1000/86400/app",
        '{"org_write": {"limit": 10, "window": 60}, "org_read":'
        ' {"limit": 1000, "window": 86400, "scope": "app"}}',
        '[{"resource": "org_write", "limit": 10, "window": 60},'
        ' {"resource": "org_read", "limit": 1000, "window": 86400, "scope": "app"}]',
    ],
    ids=["compact", "json-object", "json-list"],
)
def test_an_override_may_be_compact_or_json(text: str) -> None:
    assert parse_override(text, service=PINTEREST) == (
        rule("org_write", 10, 60),
        rule("org_read", 1000, 86400, scope="app"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("org_write=ten/60", '"org_write=ten/60": the limit must be a whole number of calls'),
        ("org_write=10", '"org_write=10" is not resource=limit/window'),
        ("org_write=0/60", '"org_write=0/60": the limit must be greater than 0'),
        ("org_write=1/60/user", "the scope must be 'app' or 'account'"),
        ("org_wirte=1/60", '"org_wirte" is not a quota resource of acme:pinterest'),
        ('{"org_write": {"limit": 1, "window": 1, "maxWait": -1}}', "$.org_write.maxWait: must"),
        ('{"org_write": {"limit": 1, "window": 1, "queue": "lifo"}}', "$.org_write.queue: must"),
        ('[{"resource": "org_write", "limit": 1}]', "$[0].window: is required"),
        ("{not json", "is not valid JSON"),
        ("  ", "the value is empty"),
    ],
    ids=[
        "limit-not-a-number",
        "no-window",
        "zero-limit",
        "unknown-scope",
        "misspelt-resource",
        "negative-max-wait",
        "unknown-queue",
        "missing-window",
        "broken-json",
        "empty",
    ],
)
def test_a_broken_override_is_refused_naming_the_item_and_the_problem(
    text: str, message: str
) -> None:
    known = ("*", "org_read", "org_write")
    with pytest.raises(ConfigurationError, match=r"^acme:pinterest quota") as raised:
        parse_override(text, service=PINTEREST, resources=known)

    assert message in str(raised.value)


def test_an_override_replaces_the_rules_of_its_resources_and_keeps_the_others() -> None:
    defaults = (rule("org_write", 100, 60), rule("org_read", 1000, 60), rule("*", 100, 1))

    trial = with_override(defaults, "org_write=300/86400/app, *=1000/86400/app", service="s:x")

    assert trial == (
        rule("org_read", 1000, 60),
        rule("org_write", 300, 86400, scope="app"),
        rule("*", 1000, 86400, scope="app"),
    )
    assert with_override(defaults, None, service="s:x") == defaults


def test_the_environment_overrides_the_packaged_rules() -> None:
    environ = {env_var(PINTEREST, "quota"): "org_write=5/1"}

    rules = packaged_rules(environ)[PINTEREST]

    assert [r for r in rules if r.resource == "org_write"] == [rule("org_write", 5, 1)]


async def test_the_app_configuration_lowers_the_limit_and_refuses_a_broken_value(
    tmp_path: Path,
) -> None:
    services = Registry.load().services()
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        config = AppConfigStore(store, SecretBox([generate_key()]), services, environ={})
        with pytest.raises(ConfigurationError, match="the limit must be a whole number"):
            await config.set(PINTEREST, {"quota": "org_write=many/60"})
        await config.set(PINTEREST, {"quota": "org_write=10/60"})

        rules = await configured_rules(services, config)

    lowered = Quotas(rules).gate(PINTEREST, "org_write", account="cook").rules
    assert rule("org_write", 10, 60) in lowered
    assert all(r.limit != 100 or r.resource == "*" for r in lowered)


def test_a_service_manifest_with_broken_quota_fields_is_refused_naming_them(tmp_path: Path) -> None:
    (tmp_path / "service.json").write_text(
        '{"service": "test:svc", "label": "Svc", "quota": [{"resource": "Writes!", "limit": 1,'
        ' "window": 1, "maxWait": -1, "queue": "lifo", "scope": "user"}]}'
    )

    with pytest.raises(ManifestError) as raised:
        Registry.load(tmp_path)

    paths = [p.path for p in raised.value.problems]
    assert paths == [
        "service.json $.quota[0].resource",
        "service.json $.quota[0].scope",
        "service.json $.quota[0].maxWait",
        "service.json $.quota[0].queue",
    ]
