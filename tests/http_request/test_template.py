"""{{field}} placeholders: filled from the message, URL values encoded as one path segment."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.core.http_template import (
    Template,
    compile_value,
    fill_url,
    fill_value,
)
from runtime.connector.errors import InputError


@given(st.text(min_size=1, max_size=40))
def test_any_url_value_stays_one_path_segment_and_decodes_back(value):
    url = fill_url(Template.parse("https://api.test/v1/items/{{id}}/notes"), {"id": value})
    prefix, suffix = "https://api.test/v1/items/", "/notes"
    assert url.startswith(prefix)
    assert url.endswith(suffix)
    segment = url[len(prefix) : -len(suffix)]
    assert "/" not in segment
    assert "?" not in segment
    assert "#" not in segment
    assert unquote(segment) == value


def test_nested_fields_and_numbers_fill_the_url():
    url = fill_url(
        Template.parse("/users/{{ user.id }}/page/{{n}}"), {"user": {"id": "a b"}, "n": 2}
    )
    assert url == "/users/a%20b/page/2"


@pytest.mark.parametrize(
    ("message", "said"),
    [({}, "has no field 'id'"), ({"id": None}, "has a null field 'id'"), ({"id": ""}, "an empty")],
    ids=["missing", "null", "empty"],
)
def test_a_url_with_a_hole_is_refused_naming_the_field(message, said):
    with pytest.raises(InputError) as caught:
        fill_url(Template.parse("/items/{{id}}"), message)
    assert caught.value.field == "url"
    assert said in caught.value.problem


def test_a_body_placeholder_alone_keeps_the_json_type_and_inside_text_becomes_text():
    body = compile_value(
        {"count": "{{n}}", "tags": ["{{tags}}", "x"], "note": "n={{n}} {{missing}}!", "k": 1}
    )
    filled = fill_value(body, {"n": 3, "tags": ["a", "b"]})
    assert filled == {"count": 3, "tags": [["a", "b"], "x"], "note": "n=3 !", "k": 1}


def test_a_missing_field_alone_is_null():
    assert fill_value(compile_value({"a": "{{nope}}"}), {}) == {"a": None}


def test_filling_does_not_change_the_template():
    compiled = compile_value({"a": ["{{x}}"]})
    fill_value(compiled, {"x": [1]})["a"].append(2)
    assert fill_value(compiled, {"x": 5}) == {"a": [5]}
