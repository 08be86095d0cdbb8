"""Static checks of mappings: a transform that would surely fail at run time fails `validate`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.flow import check_flow
from runtime.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "flows").glob("*.json"))
PIN = "$.components.pin.config.transform.in"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def blog_flow() -> dict[str, Any]:
    """The example that pins new blog posts: a webhook with a schema, a filter, a CreatePin."""
    data = json.loads((ROOT / "examples" / "flows" / "pin-new-blog-posts.json").read_text())
    return copy.deepcopy(data)


def pin_transform(data: dict[str, Any]) -> dict[str, Any]:
    transform: dict[str, Any] = data["components"]["pin"]["config"]["transform"]["in"]
    return transform


def found(data: dict[str, Any], registry: Registry) -> dict[str, str]:
    return {problem.path: problem.message for problem in check_flow(data, registry)}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_flow_still_validates(path, registry):
    assert check_flow(json.loads(path.read_text()), registry) == []


def test_an_unknown_key_is_named_with_the_closest_field(registry):
    data = blog_flow()
    transform = pin_transform(data)
    transform["imageURL"] = transform.pop("imageUrl")

    assert found(data, registry) == {
        f"{PIN}.imageURL": 'is not a field of the input of acme.pinterest.CreatePin (in-port "in");'
        ' did you mean "imageUrl"?'
    }


def test_an_unknown_key_without_a_close_field_lists_the_fields(registry):
    data = blog_flow()
    data["components"]["sections"] = {
        "type": "acme.pinterest.CreateBoardSection",
        "source": {"in": {"published": ["out"]}},
        "config": {"transform": {"in": {"boardId": "1", "name": "x", "zzz": "y"}}},
    }

    message = found(data, registry)["$.components.sections.config.transform.in.zzz"]
    assert message.startswith("is not a field of the input of acme.pinterest.CreateBoardSection")
    assert "its fields are boardId, name" in message


def test_a_missing_required_key_is_reported_at_its_path(registry):
    data = blog_flow()
    del pin_transform(data)["boardId"]

    assert found(data, registry) == {
        f"{PIN}.boardId": 'is required by the input of acme.pinterest.CreatePin (in-port "in")'
        " but missing"
    }


def test_a_transform_that_maps_the_whole_input_from_one_variable_needs_no_keys(registry):
    data = blog_flow()
    data["components"]["pin"]["config"]["transform"]["in"] = "{{{$.published.out}}}"

    assert found(data, registry) == {}


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("title", 5, "5 is not of type 'string', 'null'"),
        ("contentType", "image/gif", "'image/gif' is not one of ['image/jpeg', 'image/png', None]"),
        ("boardId", "board-1", "'board-1' does not match '^\\\\d+$'"),
        ("coverImageKeyFrameTime", -1, "-1 is less than the minimum of 0"),
    ],
    ids=["type", "enum", "pattern", "minimum"],
)
def test_a_constant_the_schema_refuses_is_reported_with_what_it_wants(key, value, said, registry):
    data = blog_flow()
    pin_transform(data)[key] = value

    assert found(data, registry) == {
        f"{PIN}.{key}": 'is a constant that the input of acme.pinterest.CreatePin (in-port "in")'
        f" refuses: {said}"
    }


def test_a_variable_inside_text_renders_a_string_where_a_number_is_wanted(registry):
    data = blog_flow()
    pin_transform(data)["coverImageKeyFrameTime"] = "at {{{$.published.out.title}}} s"

    assert found(data, registry) == {
        f"{PIN}.coverImageKeyFrameTime": "renders as text (a variable inside a longer string),"
        " but must be an integer or null"
    }


def test_a_lone_variable_keeps_its_type_so_it_is_not_judged(registry):
    data = blog_flow()
    pin_transform(data)["coverImageKeyFrameTime"] = "{{{$.published.out.title}}}"

    assert found(data, registry) == {}


def test_nested_objects_and_items_are_checked_with_their_own_paths(registry):
    data = blog_flow()
    pin_transform(data)["images"] = [
        {"url": "{{{$.published.out.url}}}", "titel": "a"},
        {"title": "{{{$.published.out.title}}}"},
        {"url": "ftp://example.com/a.png"},
    ]

    problems = found(data, registry)
    assert set(problems) == {
        f"{PIN}.images[0].titel",
        f"{PIN}.images[1].url",
        f"{PIN}.images[2].url",
    }
    assert problems[f"{PIN}.images[0].titel"].endswith('; did you mean "title"?')
    assert problems[f"{PIN}.images[1].url"].startswith("is required by this item of")
    assert "'ftp://example.com/a.png' does not match" in problems[f"{PIN}.images[2].url"]


def test_an_object_where_the_schema_wants_a_string_is_refused(registry):
    data = blog_flow()
    pin_transform(data)["title"] = {"text": "{{{$.published.out.title}}}"}

    assert found(data, registry) == {f"{PIN}.title": "must be a string or null, not an object"}


def test_every_problem_of_one_transform_is_listed_at_once(registry):
    data = blog_flow()
    transform = pin_transform(data)
    del transform["boardId"]
    transform["imageURL"] = transform.pop("imageUrl")
    transform["title"] = 5

    assert set(found(data, registry)) == {f"{PIN}.boardId", f"{PIN}.imageURL", f"{PIN}.title"}


# -- variables against the out-port schema they read -----------------------------------------


def closed_hook(data: dict[str, Any]) -> None:
    data["components"]["published"]["config"]["properties"]["schema"]["additionalProperties"] = (
        False
    )


def test_a_variable_reading_a_field_a_closed_webhook_schema_lacks_is_reported(registry):
    data = blog_flow()
    closed_hook(data)
    pin_transform(data)["title"] = "{{{$.published.out.titel}}}"

    assert found(data, registry) == {
        f"{PIN}.title": "variable {{{$.published.out.titel}}} reads a path that cannot exist (the"
        ' schema of webhook "published" says so): $.published.out has no field "titel"; did you'
        ' mean "title"?'
    }


def test_a_variable_reading_into_a_string_is_reported(registry):
    data = blog_flow()
    pin_transform(data)["description"] = "{{{$.published.out.summary.text}}}"

    message = found(data, registry)[f"{PIN}.description"]
    assert message.endswith('$.published.out.summary is a string, which has no field "text"')


def test_a_variable_reading_a_field_of_an_open_schema_is_not_reported(registry):
    data = blog_flow()  # the webhook's schema allows other fields
    pin_transform(data)["description"] = "{{{$.published.out.notes}}}"

    assert found(data, registry) == {}


def test_a_variable_reading_into_a_listed_string_of_a_manifest_out_port_is_reported(registry):
    data = blog_flow()
    data["components"]["log"] = {
        "type": "flowmixer.core.Log",
        "source": {"in": {"pin": ["out"]}},
        "config": {"transform": {"in": {"id": "{{{$.pin.out.id.value}}}"}}},
    }

    message = found(data, registry)["$.components.log.config.transform.in.id"]
    assert "(the out-port schema of acme.pinterest.CreatePin says so)" in message
    assert message.endswith('$.pin.out.id is a string, which has no field "value"')


def test_a_variable_reading_an_unlisted_field_of_a_manifest_out_port_is_not_reported(registry):
    data = blog_flow()  # CreatePin's answer is open: Pinterest may add fields
    data["components"]["log"] = {
        "type": "flowmixer.core.Log",
        "source": {"in": {"pin": ["out"]}},
        "config": {"transform": {"in": {"x": "{{{$.pin.out.pin_metrics.saves}}}"}}},
    }

    assert found(data, registry) == {}


# -- no false positive -----------------------------------------------------------------------

_PIN_FIELDS = ["title", "description", "link", "altText", "boardSectionId", "imageUrl"]


@settings(max_examples=40, deadline=None)
@given(
    fields=st.lists(st.sampled_from(_PIN_FIELDS), unique=True),
    shape=st.sampled_from(["lone", "text"]),
)
def test_string_fields_mapped_from_variables_never_raise_a_problem(fields, shape, registry):
    data = blog_flow()
    transform = {"boardId": "600000000000000001"}
    for field in fields:
        variable = "{{{$.published.out.title}}}"
        transform[field] = variable if shape == "lone" else f"Read: {variable}"
    data["components"]["pin"]["config"]["transform"]["in"] = transform

    assert found(data, registry) == {}
