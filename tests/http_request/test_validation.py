"""validate: an HttpRequest's service, credential, quota and URL are checked at their JSON
paths, and a valid choice plans the component as if its manifest named the service."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from runtime.auth.scopes import scopes_to_request
from runtime.errors import ManifestError
from runtime.flow import check_flow, validate_flow
from runtime.manifest import AuthRequirement, ComponentManifest
from runtime.registry import Registry
from tests.http_request import kit

AT = "$.components.call.config.properties"
REGISTRY = kit.registry()


def problems(properties: dict[str, Any], **extra: Any) -> dict[str, str]:
    return {p.path: p.message for p in check_flow(kit.flow(properties, **extra), REGISTRY)}


def test_an_unknown_service_is_named_at_auth_service_with_a_suggestion():
    found = problems({"url": "/contacts", "auth": {"service": "acme:crn"}})
    assert 'names the service "acme:crn"' in found[f"{AT}.auth.service"]
    assert 'did you mean "acme:crm"' in found[f"{AT}.auth.service"]


def test_a_service_without_oauth2_needs_a_header_secret():
    found = problems({"url": "/forecast", "auth": {"service": "acme:weather"}})
    assert "does not connect accounts with OAuth2" in found[f"{AT}.auth"]
    assert "apiKey" in found[f"{AT}.auth"]


def test_a_secret_the_service_does_not_declare_secret_is_refused_at_auth_secret():
    auth = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apikey"}
    found = problems({"url": "/forecast", "auth": auth})
    assert (
        '"apikey" is not a secret key of the service "acme:weather"' in found[f"{AT}.auth.secret"]
    )
    assert 'did you mean "apiKey"' in found[f"{AT}.auth.secret"]


def test_a_header_without_its_secret_is_refused():
    found = problems({"url": "/forecast", "auth": {"service": "acme:weather", "header": "X-Key"}})
    assert "secret" in found[f"{AT}.auth"]


def test_an_unknown_scope_is_named_at_its_index():
    found = problems(
        {"url": "/contacts", "auth": {"service": "acme:crm", "scopes": ["contacts:read", "x"]}}
    )
    assert 'names the scope "x"' in found[f"{AT}.auth.scopes[1]"]


def test_a_quota_resource_the_service_does_not_limit_is_named_with_a_suggestion():
    found = problems({"url": "/contacts", "auth": {"service": "acme:crm"}, "quota": "serch"})
    assert 'did you mean "search"' in found[f"{AT}.quota"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://{{host}}/contacts", "no placeholder in the host"),
        ("/contacts/{{id", "malformed placeholder"),
        ("/contacts/{{ id-x }}", "malformed placeholder"),
        ("contacts", "starting with /"),
    ],
    ids=["placeholder-in-host", "unclosed", "bad-name", "no-slash"],
)
def test_a_url_that_could_send_credentials_elsewhere_or_cannot_be_filled_is_refused(url, why):
    found = problems({"url": url, "auth": {"service": "acme:crm"}})
    assert any(why in message for path, message in found.items() if path == f"{AT}.url")


def test_a_path_without_a_service_is_refused():
    assert "absolute http(s) URL" in problems({"url": "/contacts"})[f"{AT}.url"]


def test_a_get_with_a_body_and_a_request_with_two_bodies_are_refused():
    get = problems({"url": "https://x.test/a", "body": {"a": 1}})
    assert "takes no body" in get[AT]
    both = problems({"url": "https://x.test/a", "method": "POST", "body": {}, "form": {}})
    assert "both body and form" in both[AT]


def test_401_and_429_cannot_be_success_statuses():
    found = problems({"url": "https://x.test/a", "successStatuses": [404, 429]})
    assert "other than 401 and 429" in found[f"{AT}.successStatuses[1]"]


def test_a_valid_choice_plans_the_component_with_the_services_auth_and_quota():
    auth = {"service": "acme:crm", "scopes": ["contacts:read"]}
    plan = validate_flow(
        kit.flow({"url": "/contacts/{{id}}", "auth": auth, "quota": "search"}), REGISTRY
    )
    manifest = plan.nodes["call"].manifest
    assert manifest.auth == AuthRequirement(service="acme:crm", scopes=("contacts:read",))
    assert manifest.quota is not None
    assert manifest.quota.resources == ("search",)
    # the component in the registry names no service: only flows choose one
    assert REGISTRY.find("flowmixer.core.HttpRequest").auth is None  # type: ignore[union-attr]


def test_auth_login_for_a_flow_asks_for_the_scopes_the_flow_chose():
    auth = {"service": "acme:crm", "scopes": ["contacts:write"]}
    plan = validate_flow(kit.flow({"url": "/contacts", "auth": auth}), REGISTRY)
    service = REGISTRY.service("acme:crm")
    assert service is not None
    used = [node.manifest for node in plan.nodes.values() if node.manifest.auth is not None]
    assert scopes_to_request(service, used, in_flows=True) == ("contacts:write",)
    # a login that names no flow asks for nothing on HttpRequest's behalf
    with pytest.raises(Exception, match="no scopes to ask"):
        scopes_to_request(service, REGISTRY.components())


def test_the_flows_accounts_may_name_the_chosen_service():
    flow = kit.flow({"url": "/contacts", "auth": {"service": "acme:crm"}})
    plan = validate_flow({**flow, "accounts": {"acme:crm": "sales"}}, REGISTRY)
    assert plan.accounts == {"acme:crm": "sales"}


def test_a_manifest_cannot_both_name_and_choose_its_service():
    base = REGISTRY.find("flowmixer.core.HttpRequest")
    assert base is not None
    data = base.model_dump(by_alias=True, exclude_none=True)
    with pytest.raises(ValidationError, match="exclude each other"):
        ComponentManifest.model_validate({**data, "auth": {"service": "acme:crm"}})
    with pytest.raises(ValidationError, match=r'"nope", which properties\.schema does not'):
        ComponentManifest.model_validate({**data, "authProperty": "nope"})


def test_a_static_header_secret_must_be_a_secret_key_of_its_service(tmp_path):
    (tmp_path / "service.json").write_text(
        '{"service": "acme:maps", "label": "Maps", "configKeys": ["apiKey", "region"],'
        ' "secretKeys": ["apiKey"]}'
    )
    (tmp_path / "Geocode.json").write_text(
        '{"name": "acme.maps.Geocode", "label": "Geocode", "description": "d",'
        ' "handler": "components.core.log:Log", "inPorts": [{"name": "in"}],'
        ' "auth": {"service": "acme:maps", "header": "X-Key", "secret": "region"}}'
    )
    with pytest.raises(ManifestError) as caught:
        Registry.load(tmp_path)
    assert 'Geocode.json $.auth.secret: "region" is not a secret key' in str(caught.value)


def test_an_account_named_for_a_service_called_with_a_header_secret_is_refused():
    auth = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}
    found = problems({"url": "/forecast", "auth": auth}, accounts={"acme:weather": "shop"})
    assert "header secret" in found['$.accounts["acme:weather"]']
