"""Scopes a login asks for: the components' union, older names mapped, unknown names refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.auth.scopes import (
    declared_scopes,
    normalize_scopes,
    parse_scope_list,
    scopes_to_request,
)
from runtime.errors import ConfigurationError
from runtime.manifest import ServiceManifest
from runtime.registry import Registry

REGISTRY = Registry.load()
PINTEREST = REGISTRY.service("acme:pinterest")
assert PINTEREST is not None
SERVICE: ServiceManifest = PINTEREST
ALIASES = SERVICE.scope_aliases


def test_a_login_asks_for_exactly_the_union_of_the_components_scopes_requested_by_default() -> None:
    components = REGISTRY.components()
    expected = set()
    for component in components:
        auth = component.auth
        if auth is not None and auth.service == SERVICE.service and auth.request_by_default:
            expected.update(auth.scopes)
    asked = scopes_to_request(SERVICE, components)
    assert set(asked) == expected
    assert "ads:read" not in asked  # no component needs it: least privilege
    assert declared_scopes(SERVICE, components) == asked


def test_a_login_for_no_flow_leaves_out_the_raw_api_calls_scopes() -> None:
    asked = scopes_to_request(SERVICE, REGISTRY.components())
    api_call = REGISTRY.get("acme.pinterest.MakeApiCall").auth
    assert api_call is not None
    assert api_call.request_by_default is False
    assert {"pins:write_secret", "boards:write_secret", "user_accounts:write"}.isdisjoint(asked)


def test_a_flow_that_uses_the_raw_api_call_asks_for_its_scopes() -> None:
    flow_components = [REGISTRY.get("acme.pinterest.MakeApiCall")]
    asked = scopes_to_request(SERVICE, flow_components, in_flows=True)
    api_call = flow_components[0].auth
    assert api_call is not None
    assert set(api_call.scopes) <= set(asked)
    assert "pins:write_secret" in asked


def test_named_scopes_replace_the_declared_ones_but_the_profile_scope_stays() -> None:
    asked = scopes_to_request(SERVICE, REGISTRY.components(), ["pins:read"])
    assert asked == ("pins:read", "user_accounts:read")


def test_every_login_asks_for_what_naming_the_account_needs() -> None:
    # GET /user_account names the account; a flow of board components alone still needs it.
    boards_only = [REGISTRY.get("acme.pinterest.GetBoard")]
    assert scopes_to_request(SERVICE, boards_only) == ("boards:read", "user_accounts:read")
    assert SERVICE.oauth2 is not None
    assert SERVICE.oauth2.profile_scopes == ("user_accounts:read",)


@pytest.mark.parametrize(("old", "new"), sorted(ALIASES.items()), ids=sorted(ALIASES))
def test_an_older_scope_name_the_service_declares_is_mapped_to_its_scopes(
    old: str, new: tuple[str, ...]
) -> None:
    assert normalize_scopes(SERVICE, [old]) == tuple(sorted(set(new)))


def test_older_and_v5_names_mix_without_duplicates() -> None:
    assert normalize_scopes(SERVICE, ["read_public", "pins:read", "read_users"]) == (
        "boards:read",
        "pins:read",
        "user_accounts:read",
    )


def test_an_unknown_scope_is_refused_naming_it_and_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as refused:
        normalize_scopes(SERVICE, ["pins:read", "pins:destroy", "root"])
    message = str(refused.value)
    assert "'pins:destroy', 'root'" in message
    assert "boards:read" in message
    assert "read_public" in message


def test_an_empty_scope_list_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one"):
        normalize_scopes(SERVICE, [])


@given(st.lists(st.sampled_from(sorted(SERVICE.scopes) + sorted(ALIASES)), min_size=1))
def test_normalized_scopes_are_sorted_unique_v5_scopes(names: list[str]) -> None:
    result = normalize_scopes(SERVICE, names)
    assert list(result) == sorted(set(result))
    assert set(result) <= set(SERVICE.scopes)


@pytest.mark.parametrize(
    ("text", "names"),
    [("pins:read,boards:read", ["pins:read", "boards:read"]), (" a  b,c ", ["a", "b", "c"])],
    ids=["commas", "spaces-and-commas"],
)
def test_a_scope_list_may_be_separated_by_commas_or_spaces(text: str, names: list[str]) -> None:
    assert parse_scope_list(text) == names
