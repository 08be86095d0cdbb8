"""The action components' manifests: documented fields, the list conventions, and limits and
choices that are those of Pinterest's OpenAPI description."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.pinterest import limits
from tests.pinterest.component_kit import manifest, registry
from tests.pinterest.openapi import spec_missing, spec_path

LISTS = [
    "ListBoards",
    "SearchBoards",
    "ListBoardSections",
    "ListPins",
    "ListBoardPins",
    "SearchPins",
]
ACTIONS = sorted(
    m.name.rsplit(".", 1)[1]
    for m in registry().components()
    if m.name.startswith("acme.pinterest.") and not m.is_trigger
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        spec_missing()
    return json.loads(path.read_text(encoding="utf-8"))


def _in_fields(name: str) -> dict[str, Any]:
    return manifest(name).in_port("in").schema_.get("properties", {})


def _properties(name: str) -> dict[str, Any]:
    return manifest(name).properties.schema_.get("properties", {})


def _enum(document: dict[str, Any], schema: str) -> list[str]:
    return document["components"]["schemas"][schema]["enum"]


def _choices(field: dict[str, Any]) -> list[Any]:
    """A field's enum without the None that only marks an optional field as nullable."""
    return [value for value in field["enum"] if value is not None]


def test_there_are_the_twenty_action_components():
    assert len(ACTIONS) == 20


@pytest.mark.parametrize("name", ACTIONS)
def test_every_input_field_and_property_has_a_title_and_a_description(name):
    fields = {**_in_fields(name), **_properties(name)}
    for key, schema in fields.items():
        assert schema.get("title"), f"{name}.{key} has no title"
        assert schema.get("description"), f"{name}.{key} has no description"


@pytest.mark.parametrize(
    "name", [n for n in ACTIONS if n not in ("GetUserAccount", "ListPins", "ListBoards")]
)
def test_an_input_port_refuses_fields_it_does_not_know(name):
    assert manifest(name).in_port("in").schema_["additionalProperties"] is False


@pytest.mark.parametrize("name", LISTS)
def test_a_list_component_has_the_output_modes_a_limit_and_a_not_found_port(name):
    props = _properties(name)
    assert props["outputMode"]["enum"] == ["each", "array", "first"]
    assert (props["limit"]["minimum"], props["limit"]["maximum"], props["limit"]["default"]) == (
        1,
        10000,
        100,
    )
    assert [p.name for p in manifest(name).out_ports] == ["out", "notFound"]


@pytest.mark.parametrize("name", ["CreatePin", "UpdatePin"])
def test_pin_text_limits_are_those_of_the_api(name, document):
    fields = _in_fields(name)
    create = document["components"]["schemas"]["PinCreate"]["properties"]
    for field, api in (
        ("title", "title"),
        ("description", "description"),
        ("link", "link"),
        ("altText", "alt_text"),
    ):
        assert (
            fields[field]["maxLength"]
            == create[api]["maxLength"]
            == limits.PIN_TEXT_MAX_LENGTHS[api]
        )


@pytest.mark.parametrize("name", ["CreateBoardSection", "UpdateBoardSection"])
def test_a_section_name_takes_what_the_api_takes(name, document):
    api = document["components"]["schemas"]["BoardSection"]["properties"]["name"]
    field = _in_fields(name)["name"]
    assert (field["minLength"], field["maxLength"]) == (api["minLength"], api["maxLength"])


def test_board_privacy_choices_are_those_of_the_api_for_create_update_and_listing(document):
    assert _choices(_in_fields("CreateBoard")["privacy"]) == _enum(document, "BoardPrivacy")
    assert _choices(_in_fields("UpdateBoard")["privacy"]) == _enum(document, "BoardUpdatePrivacy")
    assert _properties("ListBoards")["privacy"]["enum"] == _enum(document, "BoardPrivacyFilter")
    assert "only PUBLIC and SECRET" in manifest("UpdateBoard").description


def test_pin_filters_and_content_types_are_those_of_the_api(document):
    parameters = document["components"]["parameters"]
    assert (
        _properties("ListPins")["pinFilter"]["enum"]
        == parameters["query_pin_filter"]["schema"]["enum"]
    )
    for name in ("ListPins", "ListBoardPins"):
        assert _properties(name)["creativeTypes"]["items"]["enum"] == _enum(
            document, "CreativeType"
        )
    assert _choices(_in_fields("CreatePin")["contentType"]) == _enum(document, "ContentType")
    carousel = document["components"]["schemas"]["PinMediaSourceImagesURL"]["properties"]["items"]
    images = _in_fields("CreatePin")["images"]
    assert (images["minItems"], images["maxItems"]) == (carousel["minItems"], carousel["maxItems"])


@pytest.mark.parametrize("name", ACTIONS)
def test_every_id_field_takes_digits_only(name):
    for key, schema in _in_fields(name).items():
        if key.endswith("Id"):
            assert schema["pattern"] == limits.ID_PATTERN, f"{name}.{key}"


@pytest.mark.parametrize("name", ACTIONS)
def test_every_optional_input_field_accepts_null_as_not_given(name):
    # A template over an upstream value that is not there renders null; that must mean
    # "not given", not a dead letter.
    for port in manifest(name).in_ports:
        schema = port.schema_
        required = set(schema.get("required", []))
        for field_name, field in schema.get("properties", {}).items():
            if field_name in required or "type" not in field:
                continue
            types = field["type"] if isinstance(field["type"], list) else [field["type"]]
            assert "null" in types, f"{name} {port.name}.{field_name} refuses null"
