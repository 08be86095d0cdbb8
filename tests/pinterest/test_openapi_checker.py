"""The spec checker catches requests and responses that break Pinterest's OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from multidict import CIMultiDict, MultiDict

from tests.pinterest.openapi import Spec, spec_path

BEARER = CIMultiDict({"Authorization": "Bearer pina-test", "Content-Type": "application/json"})
BASIC_FORM = CIMultiDict(
    {"Authorization": "Basic eDp5", "Content-Type": "application/x-www-form-urlencoded"}
)
JSON = CIMultiDict({"Content-Type": "application/json"})
BOARD = {"id": "1", "name": "Recipes"}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_the_description_is_found_where_the_tests_expect_it(spec: Spec) -> None:
    assert spec_path().is_file()
    assert spec.version.startswith("5.")
    assert len(spec.operations) > 100


def test_the_location_can_be_overridden_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PINTEREST_OPENAPI", str(tmp_path / "spec.json"))
    assert spec_path() == tmp_path / "spec.json"


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("GET", "/v5/pins/analytics", "multi_pins/analytics"),
        ("GET", "/v5/pins/123", "pins/get"),
        ("GET", "/pins/123", "pins/get"),
        ("POST", "/v5/pins/abc/save", "pins/save"),
        ("DELETE", "/v5/boards/1/sections/2", "board_sections/delete"),
    ],
    ids=["literal-beats-template", "templated", "without-base-path", "save", "nested"],
)
def test_operations_are_found_by_method_and_concrete_path(
    spec: Spec, method: str, path: str, operation_id: str
) -> None:
    operation = spec.find_operation(method, path)
    assert operation is not None
    assert operation.operation_id == operation_id


def test_an_unknown_path_or_method_finds_no_operation(spec: Spec) -> None:
    assert spec.find_operation("GET", "/v5/nothing") is None
    assert spec.find_operation("PUT", "/v5/pins") is None
    assert spec.check_request("PUT", "/v5/pins", MultiDict(), BEARER, None) == [
        "PUT /v5/pins: no such operation in the description"
    ]


def test_operations_carry_their_scopes_and_rate_limit_category(spec: Spec) -> None:
    create = spec.operation_by_id("pins/create")
    assert create.scopes == {"boards:read", "boards:write", "pins:read", "pins:write"}
    assert create.category == "org_write"
    assert create.client_credentials
    assert not spec.operation_by_id("pins/save").client_credentials
    assert spec.operation_by_id("oauth/token").basic


def test_a_valid_request_has_no_problems(spec: Spec) -> None:
    query = MultiDict([("page_size", "250"), ("creative_types", "REGULAR"), ("bookmark", "x")])
    assert spec.check_request("GET", "/v5/boards/1/pins", query, BEARER, None) == []
    pin = {
        "board_id": "1",
        "title": "t" * 100,
        "media_source": {"source_type": "image_url", "url": "u"},
    }
    assert spec.check_request("POST", "/v5/pins", MultiDict(), BEARER, body(pin)) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (MultiDict(page_size="300"), "'page_size' at $: 300 is greater than the maximum of 250"),
        (MultiDict(page_size="0"), "'page_size' at $: 0 is less than the minimum of 1"),
        (MultiDict(page_size="ten"), "'page_size': 'ten' is not a integer"),
        (MultiDict(privacy="HIDDEN"), "'privacy' at $: 'HIDDEN' is not one of"),
        (MultiDict(colour="red"), "unknown query parameter 'colour'"),
        (MultiDict([("bookmark", "a"), ("bookmark", "b")]), "'bookmark' is given 2 times"),
    ],
    ids=["page-size-300", "page-size-0", "page-size-text", "bad-enum", "unknown", "repeated"],
)
def test_bad_query_parameters_are_reported(
    spec: Spec, query: MultiDict[str], expected: str
) -> None:
    problems = spec.check_request("GET", "/v5/boards", query, BEARER, None)
    assert len(problems) == 1
    assert expected in problems[0]


def test_a_missing_required_query_parameter_is_reported(spec: Spec) -> None:
    problems = spec.check_request("GET", "/v5/search/pins", MultiDict(), BEARER, None)
    assert problems == ["GET /v5/search/pins: missing required query parameter 'query'"]


def test_a_path_id_that_is_not_digits_is_reported(spec: Spec) -> None:
    problems = spec.check_request("GET", "/v5/boards/abc", MultiDict(), BEARER, None)
    assert problems == [
        "GET /v5/boards/abc: path parameter 'board_id' at $: 'abc' does not match '^\\\\d+$'"
    ]


def test_repeated_array_parameters_are_checked_item_by_item(spec: Spec) -> None:
    query = MultiDict([("creative_types", "VIDEO"), ("creative_types", "GIF")])
    problems = spec.check_request("GET", "/v5/pins", query, BEARER, None)
    assert len(problems) == 1
    assert "'creative_types' at $[1]: 'GIF' is not one of" in problems[0]


def test_a_title_over_100_characters_is_reported_with_its_json_path(spec: Spec) -> None:
    pin = {
        "board_id": "1",
        "title": "t" * 101,
        "media_source": {"source_type": "image_url", "url": "u"},
    }
    problems = spec.check_request("POST", "/v5/pins", MultiDict(), BEARER, body(pin))
    assert len(problems) == 1
    assert "request body at $.title:" in problems[0]
    assert problems[0].endswith("is too long")


def test_the_media_source_variant_is_chosen_by_its_discriminator(spec: Spec) -> None:
    pin = {"board_id": "1", "media_source": {"source_type": "image_base64", "data": "a"}}
    problems = spec.check_request("POST", "/v5/pins", MultiDict(), BEARER, body(pin))
    assert any("$.media_source: 'content_type' is a required property" in p for p in problems)


@pytest.mark.parametrize(
    ("headers", "payload", "expected"),
    [
        (BEARER, None, "the request body is required but missing"),
        (
            CIMultiDict({"Authorization": "Bearer x", "Content-Type": "text/plain"}),
            b"name=x",
            "request Content-Type 'text/plain' is not one of ['application/json']",
        ),
        (BEARER, b"{not json", "the request body is not valid application/json"),
        (
            BEARER,
            body({"description": "no name"}),
            "request body at $: 'name' is a required property",
        ),
        (JSON, body({"name": "x"}), "the Authorization header must use bearer"),
    ],
    ids=["missing", "wrong-content-type", "not-json", "schema", "no-token"],
)
def test_bad_request_bodies_and_headers_are_reported(
    spec: Spec, headers: CIMultiDict[str], payload: bytes | None, expected: str
) -> None:
    problems = spec.check_request("POST", "/v5/boards", MultiDict(), headers, payload)
    assert any(expected in p for p in problems), problems


def test_token_requests_are_checked_as_forms_with_basic_auth(spec: Spec) -> None:
    good = b"grant_type=refresh_token&refresh_token=pinr1&continuous_refresh=true"
    assert spec.check_request("POST", "/v5/oauth/token", MultiDict(), BASIC_FORM, good) == []
    problems = spec.check_request(
        "POST", "/v5/oauth/token", MultiDict(), BASIC_FORM, b"grant_type=refresh_token"
    )
    assert problems == [
        "POST /v5/oauth/token: request body at $: 'refresh_token' is a required property"
    ]
    problems = spec.check_request("POST", "/v5/oauth/token", MultiDict(), BEARER, good)
    assert "the Authorization header must use basic" in problems[0]


def test_a_valid_response_has_no_problems(spec: Spec) -> None:
    page = {"items": [BOARD], "bookmark": None}
    assert spec.check_response("GET", "/v5/boards", 200, JSON, body(page)) == []
    assert spec.check_response("DELETE", "/v5/boards/1", 204, CIMultiDict(), b"") == []
    error = {"code": 40, "message": "Board not found."}
    assert spec.check_response("GET", "/v5/boards/1", 404, JSON, body(error)) == []


def test_a_response_missing_items_is_reported(spec: Spec) -> None:
    problems = spec.check_response("GET", "/v5/boards", 200, JSON, body({"bookmark": None}))
    assert problems == ["GET /v5/boards -> 200: response body at $: 'items' is a required property"]


@pytest.mark.parametrize(
    ("path", "status", "headers", "payload", "expected"),
    [
        ("/v5/boards/1", 200, JSON, {"id": "1"}, "'name' is a required property"),
        (
            "/v5/boards/1",
            200,
            JSON,
            {**BOARD, "created_at": "yesterday"},
            "'yesterday' is not a 'date-time'",
        ),
        ("/v5/boards/1", 200, JSON, {**BOARD, "privacy": "HIDDEN"}, "'HIDDEN' is not one of"),
        (
            "/v5/boards/1",
            200,
            CIMultiDict({"Content-Type": "text/html"}),
            BOARD,
            "Content-Type 'text/html'",
        ),
        (
            "/v5/pins/1",
            200,
            JSON,
            {"id": "1", "media": {"media_type": "image", "images": {"600x": {"url": "u"}}}},
            "'width' is a required property",
        ),
        ("/v5/boards/1", 404, JSON, {"message": "gone"}, "'code' is a required property"),
    ],
    ids=[
        "missing-required",
        "bad-date-time",
        "bad-enum",
        "not-json-content",
        "nested-media",
        "error-body",
    ],
)
def test_bad_response_bodies_are_reported(
    spec: Spec, path: str, status: int, headers: CIMultiDict[str], payload: object, expected: str
) -> None:
    problems = spec.check_response("GET", path, status, headers, body(payload))
    assert any(expected in p for p in problems), problems


def test_a_body_on_a_status_that_declares_none_is_reported(spec: Spec) -> None:
    problems = spec.check_response("DELETE", "/v5/boards/1", 204, JSON, b"{}")
    assert problems == ["DELETE /v5/boards/1 -> 204: status 204 declares no body, but one was sent"]


def test_an_undeclared_status_without_a_default_is_reported() -> None:
    # Every Pinterest operation declares a default answer, so a small description is used.
    tiny = Spec(
        {
            "paths": {
                "/things": {
                    "get": {
                        "operationId": "things/list",
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            }
        }
    )
    assert tiny.check_response("GET", "/v5/things", 200, JSON, b"") == []
    assert tiny.check_response("GET", "/v5/things", 500, JSON, b"{}") == [
        "GET /v5/things -> 500: status 500 is not declared (nor a default)"
    ]


def test_an_error_status_falls_back_to_the_default_answer(spec: Spec) -> None:
    error = {"code": 8, "message": "Rate limit exceeded."}
    assert spec.check_response("GET", "/v5/boards/1/sections", 429, JSON, body(error)) == []
    problems = spec.check_response("GET", "/v5/boards/1/sections", 503, JSON, b"{}")
    assert "'code' is a required property" in problems[0]


def test_the_refresh_response_needs_the_rotated_refresh_token(spec: Spec) -> None:
    answer = {"access_token": "pina1", "token_type": "bearer", "expires_in": 1, "scope": "x"}
    ok = spec.check_response("POST", "/v5/oauth/token", 200, JSON, body(answer))
    assert ok == []
    refresh = {**answer, "response_type": "refresh_token"}
    problems = spec.check_response("POST", "/v5/oauth/token", 200, JSON, body(refresh))
    assert any("'refresh_token' is a required property" in p for p in problems)
    assert len(problems) == len(set(problems))


def test_nullable_fields_accept_null_but_not_other_types(spec: Spec) -> None:
    pin = {"id": "1", "title": None, "board_section_id": None, "creative_type": None}
    assert spec.check_response("GET", "/v5/pins/1", 200, JSON, body(pin)) == []
    problems = spec.check_response("GET", "/v5/pins/1", 200, JSON, body({"id": "1", "title": 5}))
    assert any("$.title: 5 is not of type 'string', 'null'" in p for p in problems)
