"""Templates of ``config.transform``: inline variables compiled once, rendered per message."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import ConfigurationError
from runtime.mapping import TemplateError, compile_template, json_path, scan_template

# -- strategies ----------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Text that holds no variable and cannot run into one: no braces at all.
plain_text = st.text(alphabet=st.characters(blacklist_characters="{}", codec="utf-8"))
# Keys a path can name: anything but . [ ] }, without surrounding blanks (they are trimmed).
path_keys = st.text(
    alphabet=st.characters(blacklist_characters=".[]}", codec="utf-8"), min_size=1
).filter(lambda key: key == key.strip())
component_ids = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,8}\Z")
ports = st.from_regex(r"\A[a-z][A-Za-z0-9_]{0,8}\Z")


def without_templates(value: Any) -> bool:
    return "{{{" not in json.dumps(value, ensure_ascii=False)


def nest(keys: list[str], leaf: Any) -> Any:
    for key in reversed(keys):
        leaf = {key: leaf}
    return leaf


# -- properties ----------------------------------------------------------------------------


@given(json_values.filter(without_templates))
def test_a_value_without_variables_renders_to_an_equal_fresh_copy(value):
    rendered = compile_template(value).render({})
    assert rendered == value
    if isinstance(value, dict | list) and value:
        assert rendered is not value


@given(value=json_values, component_id=component_ids, port=ports)
def test_a_string_that_is_one_variable_keeps_the_exact_value_and_type(value, component_id, port):
    template = compile_template(f"{{{{{{$.{component_id}.{port}}}}}}}")
    rendered = template.render({component_id: {port: value}})
    assert rendered == value
    assert json.dumps(rendered) == json.dumps(value)  # same types: 1 stays 1, True stays true


@given(keys=st.lists(path_keys, min_size=1, max_size=4), value=json_values)
def test_a_variable_with_a_path_reads_the_value_at_that_path(keys, value):
    template = compile_template("{{{ $.src.out." + ".".join(keys) + " }}}")
    assert template.render({"src": {"out": nest(keys, value)}}) == value


@given(before=plain_text, text=st.text(), after=plain_text)
def test_a_string_value_inside_text_is_plain_concatenation(before, text, after):
    template = compile_template(before + "{{{$.a.out.s}}}" + after)
    assert template.render({"a": {"out": {"s": text}}}) == before + text + after


@given(value=json_values, keys=st.lists(path_keys, min_size=1, max_size=3))
def test_a_path_that_leads_nowhere_renders_none(value, keys):
    # the value sits one key further down than the template reads past it
    template = compile_template("{{{$.a.out." + ".".join([*keys, "missing"]) + "}}}")
    trail = {"a": {"out": nest(keys, {"other": value})}}
    assert template.render(trail) is None


@given(trail_value=json_values, template_value=json_values.filter(without_templates))
def test_rendering_never_changes_the_trail(trail_value, template_value):
    trail = {"a": {"out": trail_value}}
    before = copy.deepcopy(trail)
    template = compile_template(
        {"whole": "{{{$.a.out}}}", "text": "x{{{$.a.out}}}", "k": template_value}
    )
    rendered = template.render(trail)
    # mutate everything the render returned: the trail must not notice
    for part in (rendered["whole"], rendered["k"]):
        if isinstance(part, dict):
            part.clear()
        elif isinstance(part, list):
            part.append("mutated")
    assert trail == before


# -- examples ------------------------------------------------------------------------------

TRAIL = {
    "watch": {
        "out": {
            "title": "Sunset",
            "count": 3,
            "ratio": 0.5,
            "ok": True,
            "none": None,
            "items": [{"id": "p1"}, {"id": "p2"}],
            "tags": ["a", "b"],
            "odd key": "odd",
        }
    },
    "other": {"out": "plain", "errors": [1, 2]},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{{$.watch.out.title}}}", "Sunset"),
        ("{{{$.watch.out.count}}}", 3),
        ("{{{$.watch.out.ok}}}", True),
        ("{{{$.watch.out.none}}}", None),
        ("{{{$.watch.out.tags}}}", ["a", "b"]),
        ("{{{$.watch.out.items.1.id}}}", "p2"),
        ("{{{$.watch.out.items[1].id}}}", "p2"),
        ("{{{$.watch.out.items[0]}}}", {"id": "p1"}),
        ("{{{$.watch.out.odd key}}}", "odd"),
        ("{{{  $.watch.out.title\n}}}", "Sunset"),
        ("{{{$.other.out}}}", "plain"),
        ("{{{$.other.errors[1]}}}", 2),
    ],
    ids=[
        "string",
        "number keeps its type",
        "boolean keeps its type",
        "null",
        "array",
        "item by dotted index",
        "item by bracket index",
        "object",
        "key with a space",
        "blanks around the variable",
        "whole payload of a port",
        "another port",
    ],
)
def test_a_single_variable_takes_the_value_it_points_at(template, expected):
    assert compile_template(template).render(TRAIL) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Title: {{{$.watch.out.title}}}!", "Title: Sunset!"),
        ("n={{{$.watch.out.count}}}, r={{{$.watch.out.ratio}}}", "n=3, r=0.5"),
        ("ok={{{$.watch.out.ok}}}", "ok=true"),
        ("[{{{$.watch.out.none}}}]", "[]"),
        ("[{{{$.watch.out.nothing}}}]", "[]"),
        ("tags={{{$.watch.out.tags}}}", 'tags=["a","b"]'),
        ("first={{{$.watch.out.items.0}}}", 'first={"id":"p1"}'),
        ("{{{$.watch.out.title}}}{{{$.other.out}}}", "Sunsetplain"),
        ("{{{ lonely braces", "{{{ lonely braces"),
    ],
    ids=[
        "string in text",
        "numbers as JSON",
        "booleans as JSON",
        "null as nothing",
        "missing as nothing",
        "array as compact JSON",
        "object as compact JSON",
        "two variables side by side",
        "braces that open no variable are text",
    ],
)
def test_a_variable_inside_text_is_written_as_text(template, expected):
    assert compile_template(template).render(TRAIL) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{{$.nobody.out}}}",
        "{{{$.watch.nothing}}}",
        "{{{$.watch.out.nothing.deeper}}}",
        "{{{$.watch.out.items[5]}}}",
        "{{{$.watch.out.title.length}}}",
        "{{{$.watch.out.count[0]}}}",
        "{{{$.watch.out.tags.first}}}",
    ],
    ids=[
        "unknown component",
        "unknown port",
        "missing key",
        "item out of range",
        "key into a string",
        "index into a number",
        "word key into an array",
    ],
)
def test_a_path_that_leads_nowhere_is_none(template):
    assert compile_template(template).render(TRAIL) is None


def test_objects_and_arrays_are_rendered_all_the_way_down_and_keys_are_kept_as_written():
    template = compile_template(
        {
            "{{{$.watch.out.title}}}": "key is not templated",
            "pin": {"title": "{{{$.watch.out.title}}}", "ids": ["{{{$.watch.out.items.0.id}}}"]},
            "fixed": [1, 2.5, False, None, {"a": "b"}],
        }
    )
    assert template.render(TRAIL) == {
        "{{{$.watch.out.title}}}": "key is not templated",
        "pin": {"title": "Sunset", "ids": ["p1"]},
        "fixed": [1, 2.5, False, None, {"a": "b"}],
    }


def test_each_render_returns_new_containers_so_a_handler_may_change_its_input():
    template = compile_template({"fixed": {"list": [1]}, "copied": "{{{$.watch.out.tags}}}"})
    first = template.render(TRAIL)
    first["fixed"]["list"].append(2)
    first["copied"].append("c")
    assert template.render(TRAIL) == {"fixed": {"list": [1]}, "copied": ["a", "b"]}
    assert TRAIL["watch"]["out"]["tags"] == ["a", "b"]


def test_references_and_variables_say_what_a_template_reads_and_where():
    template = compile_template(
        {"title": "{{{$.watch.out.title}}} by {{{$.other.out}}}", "list": ["{{{$.watch.out}}}"]},
        "$.components.copy.config.transform.in",
    )
    assert template.references == {("watch", "out"), ("other", "out")}
    located = [(v.component_id, v.port, v.path, v.location) for v in template.variables]
    assert located == [
        ("watch", "out", ("title",), "$.components.copy.config.transform.in.title"),
        ("other", "out", (), "$.components.copy.config.transform.in.title"),
        ("watch", "out", (), "$.components.copy.config.transform.in.list[0]"),
    ]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{{$.}}}", "names no component"),
        ("{{{$.watch}}}", 'names no port of component "watch"'),
        ("{{{$.watch.}}}", 'names no port of component "watch"'),
        ("{{{watch.out}}}", 'must start with "$."'),
        ("{{{$.1watch.out}}}", 'has the component id "1watch"'),
        ("{{{$.wa tch.out}}}", 'has the component id "wa tch"'),
        ("{{{$.watch.Out}}}", 'has the port "Out"'),
        ("{{{$.watch.out.items[0}}}", "has a [ that is not a closed item number"),
        ("{{{$.watch.out.items[x]}}}", "has a [ that is not a closed item number"),
        ("{{{$.watch.out..title}}}", "has an empty key"),
        ("{{{$.watch.out.title.}}}", "has an empty key"),
        ("{{{$.watch.out]}}}", 'has an unexpected "]"'),
        ("see {{{$.watch.out.title", "is never closed"),
    ],
    ids=[
        "nothing after $.",
        "no port",
        "empty port",
        "no $.",
        "id starting with a digit",
        "id with a space",
        "port with a capital",
        "unclosed bracket",
        "bracket without a number",
        "two dots",
        "trailing dot",
        "stray bracket",
        "unclosed variable",
    ],
)
def test_a_malformed_variable_is_refused_with_its_location(template, expected):
    with pytest.raises(TemplateError) as caught:
        compile_template({"pin": [template]}, "$.components.copy.config.transform.in")
    assert caught.value.path == "$.components.copy.config.transform.in.pin[0]"
    assert expected in caught.value.message
    assert "{{{$.componentId.port}}}" in caught.value.message  # says what would be right
    assert isinstance(caught.value, ConfigurationError)


def test_scanning_a_template_finds_every_malformed_string_and_the_good_variables():
    variables, errors = scan_template(
        {"a": "{{{$.}}}", "b": ["{{{$.watch.out.title}}}", "{{{$.x}}}"]}, "$.t"
    )
    assert [e.path for e in errors] == ["$.t.a", "$.t.b[1]"]
    assert [(v.component_id, v.location) for v in variables] == [("watch", "$.t.b[0]")]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ((), "$"),
        (("components", "copy", "source"), "$.components.copy.source"),
        (("inPorts", 0, "schema"), "$.inPorts[0].schema"),
        (("odd key", "a.b", 'q"'), '$["odd key"]["a.b"]["q\\""]'),
        (("my-id", "_x"), "$.my-id._x"),
    ],
    ids=["root", "plain keys", "indices", "odd keys quoted", "dashes and underscores"],
)
def test_json_paths_are_written_dotted_with_odd_keys_quoted(keys, expected):
    assert json_path("$", *keys) == expected
