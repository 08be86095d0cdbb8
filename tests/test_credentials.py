"""Credentials: injected as context.auth, required before a flow starts, never shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.component import Component, Context
from runtime.credentials import StaticCredentials, environment_credentials
from runtime.engine import Engine, Output
from runtime.errors import EngineError, ReauthorizeError
from runtime.flow_credentials import no_account
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


@given(
    st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True),
)
def test_the_hint_without_credentials_names_the_real_variable_and_login_of_any_service(
    org: str, name: str
) -> None:
    hint = no_account(f"{org}:{name}")
    assert f"`flowmixer auth login {name}`" in hint
    assert f"set {name.upper().replace('-', '_')}_ACCESS_TOKEN" in hint
    assert "<" not in hint
    assert "SERVICE" not in hint


async def test_a_flow_without_credentials_names_both_ways_without_a_placeholder():
    async with Engine(MemoryStore()) as engine:  # no resolver at all
        with pytest.raises(EngineError) as caught:
            await engine.start_flow(flow_needing("acme:pinterest"))
    message = str(caught.value)
    assert "`flowmixer auth login pinterest`" in message
    assert "set PINTEREST_ACCESS_TOKEN" in message
    assert "<" not in message


async def test_an_environment_token_calls_the_services_configured_api_base():
    resolver = environment_credentials(
        {"PINTEREST_ACCESS_TOKEN": "pina_x"}, {"acme:pinterest": "http://127.0.0.1:7/v5"}
    )
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append, credentials=resolver) as engine:
        await engine.start_flow(flow_needing("acme:pinterest"))
        await engine.push("f", "hook", {})
        await engine.wait_idle("f")
    assert outputs[0].payload["apiBase"] == "http://127.0.0.1:7/v5"


def test_the_tokens_own_api_base_variable_wins_over_the_configured_one():
    resolver = environment_credentials(
        {"PINTEREST_ACCESS_TOKEN": "pina_x", "PINTEREST_API_BASE": "http://127.0.0.1:8/v5"},
        {"acme:pinterest": "http://127.0.0.1:7/v5"},
    )
    manifest = flow_needing("acme:pinterest").nodes["call"].manifest
    found = resolver(manifest)
    assert found is not None
    assert found.settings == {"apiBase": "http://127.0.0.1:8/v5"}
