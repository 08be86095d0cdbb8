"""Credentials: injected as context.auth, required before a flow starts, never shown."""

from __future__ import annotations

import pytest

from runtime.component import Component, Context
from runtime.credentials import StaticCredentials, environment_credentials
from runtime.engine import Engine, Output
from runtime.errors import EngineError, ReauthorizeError
from runtime.manifest import ComponentManifest
from runtime.stores.memory import MemoryStore
from tests import kit


class WhoAmI(Component):
    async def receive(self, context: Context) -> None:
        auth = context.auth
        await context.send(
            {"service": auth.service, "token": await auth.access_token(), **auth.settings}
        )


def flow_needing(service: str):
    flow = kit.plan("f", {"hook": "Hook", "call": "Echo"}, [("hook", "call")])
    node = flow.nodes["call"]
    manifest = ComponentManifest.model_validate(
        {
            **node.manifest.model_dump(by_alias=True),
            "auth": {"service": service, "scopes": ["pins:read"]},
        }
    )
    object.__setattr__(node, "manifest", manifest)
    object.__setattr__(node, "handler", WhoAmI)
    return flow


async def test_a_component_gets_the_credentials_of_its_service_as_context_auth():
    outputs: list[Output] = []
    resolver = environment_credentials(
        {"PINTEREST_ACCESS_TOKEN": "pina_x", "PINTEREST_API_BASE": "http://127.0.0.1:9/v5"}
    )
    async with Engine(MemoryStore(), on_output=outputs.append, credentials=resolver) as engine:
        await engine.start_flow(flow_needing("acme:pinterest"))
        await engine.push("f", "hook", {})
        await engine.wait_idle("f")

    assert outputs[0].payload == {
        "service": "acme:pinterest",
        "token": "pina_x",
        "apiBase": "http://127.0.0.1:9/v5",
    }


async def test_a_flow_whose_components_have_no_credentials_does_not_start():
    async with Engine(MemoryStore(), credentials=environment_credentials({})) as engine:
        with pytest.raises(EngineError) as caught:
            await engine.start_flow(flow_needing("acme:pinterest"))
        assert engine.flows() == []
    message = str(caught.value)
    assert "acme:pinterest (needed by call): no account is connected" in message
    assert "PINTEREST_ACCESS_TOKEN" in message


async def test_a_refused_static_token_asks_for_a_person_and_is_never_shown():
    credentials = StaticCredentials("acme:pinterest", "pina_secret", source="the token in X")
    assert "pina_secret" not in repr(credentials)
    with pytest.raises(ReauthorizeError, match="refused the token in X") as caught:
        await credentials.token_rejected("pina_secret")
    assert "pina_secret" not in str(caught.value)


def test_components_without_auth_need_no_credentials():
    resolve = environment_credentials({"PINTEREST_ACCESS_TOKEN": "t"})
    assert resolve(kit.manifest("Echo")) is None
